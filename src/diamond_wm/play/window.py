"""The pygame window of `diamond play`: event polling and drawing around an interactive session
(`diamond_wm.interactive`: `PlaySession`, `CSGOPlaySession`, `DatasetBrowser`).

Events become the session's inputs: a key press or release is named (`pygame.key.name`) and, when the session
binds the name (`bindings`), sends its command on the press; any other key is a game key (`KeyDown` / `KeyUp`).
Esc and closing the window quit. While the window lost the keyboard, held keys are released (`release_all`).

Layout: a header (columns of text, white frame on black) on top, unless hidden, and the current frame below it,
scaled to `size` pixels (square, or width x height) with nearest-neighbour interpolation (game pixels stay crisp).
A session that plays with the mouse (`uses_mouse`: the CS:GO world model) gets it hidden and grabbed, its relative
motion (`MouseMove`) and its left and right buttons (`MouseButton`).
Headless use (tests, screenshots): set `SDL_VIDEODRIVER=dummy` before opening the window.
A header text may take the width of the columns to its right whose line is empty (dataset mode's dataset name);
longer texts are shortened in the middle with "...", their label and the end of their value kept (`fit_text`):
columns never overlap. An app's `header_lines` (default 5) sets the header's height.
When the app has no frame to show but an `error` (an unreadable episode), the error is written in the frame's place.
SIGTERM closes the window at the end of the current frame, as Esc does.
"""

from __future__ import annotations

import logging
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from diamond_wm.data.frames import to_uint8_frames
from diamond_wm.interactive.commands import Input, MouseButton, MouseMove, key_input
from diamond_wm.runtime.signals import on_termination

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

log = logging.getLogger(__name__)

FONT_SIZE = 16
LINE_HEIGHT = 18
MARGIN = 8
MIN_HEADER_WIDTH = 540
HEADER_LINES = 5
FRAME_BORDER = (90, 90, 90)  # grey outline: the frame stays visible on a black game background
ERROR_COLOR = (255, 120, 120)
MOUSE_BUTTONS = {1: "left", 3: "right"}  # pygame's button numbers
QUIT_KEY = "escape"


def frame_to_surface_array(frame: torch.Tensor, size: int | tuple[int, int]) -> np.ndarray:
    """(C, H, W) float in [-1, 1] -> (height, width, 3) uint8 image (nearest-neighbour scaling); `size` is the
    side of a square or (width, height)."""
    width, height = (size, size) if isinstance(size, int) else size
    img = to_uint8_frames(frame.detach().cpu().float())
    if img.size(0) == 1:
        img = img.expand(3, -1, -1)
    img = img.permute(1, 2, 0).numpy()  # (H, W, 3)
    h, w = img.shape[:2]
    rows = np.arange(height) * h // height
    cols = np.arange(width) * w // width
    return np.ascontiguousarray(img[rows][:, cols])


def _line(column: list[str], i: int) -> str:
    return column[i] if i < len(column) else ""


def fit_text(text: str, width: int, measure: Callable[[str], int]) -> str:
    """`text` if it is at most `width` pixels wide (`measure(text)`), else shortened in the middle with "...": the
    label before the first ": " is kept, then as much of the value's start (a third) and end (the rest) as fit."""
    if measure(text) <= width:
        return text
    label, sep, value = text.partition(": ")
    if not sep or measure(label + sep + "...") > width:
        label, sep, value = "", "", text
    for keep in range(len(value) - 1, -1, -1):
        head = keep // 3
        short = f"{label}{sep}{value[:head]}...{value[len(value) - (keep - head) :]}"
        if measure(short) <= width:
            return short
    return "..."


def controls_help(app: Any) -> list[str]:
    """The session's controls help with the window's own key (Esc: quit) first."""
    return app.controls_help([(QUIT_KEY, "quit")])


class PlayWindow:
    """Drives `app` (an `interactive.session_interface.InteractiveSession`) in a pygame window at `fps` frames per
    second."""

    def __init__(
        self,
        app: Any,
        size: int | tuple[int, int] = 640,
        fps: int = 15,
        show_header: bool = True,
        title: str = "diamond play",
    ):
        self.app = app
        self.frame_width, self.frame_height = (size, size) if isinstance(size, int) else size
        self.fps = int(fps)
        self.show_header = show_header
        self.title = title
        self.screen: Optional[Any] = None
        self.font: Optional[Any] = None
        self.clock: Optional[Any] = None
        self.frames_drawn = 0
        self.should_stop = False
        self.header_lines = int(getattr(app, "header_lines", HEADER_LINES))
        self.header_height = self.header_lines * LINE_HEIGHT + 2 * MARGIN if show_header else 0
        self.width = max(self.frame_width, MIN_HEADER_WIDTH) + 2 * MARGIN
        self.height = self.header_height + self.frame_height + 2 * MARGIN
        self.uses_mouse = bool(getattr(app, "uses_mouse", False))

    @property
    def header_rect(self) -> tuple[int, int, int, int]:
        """(x, y, w, h) of the header box."""
        return (MARGIN, MARGIN, self.width - 2 * MARGIN, self.header_height - MARGIN)

    @property
    def frame_rect(self) -> tuple[int, int, int, int]:
        """(x, y, w, h) where the frame is drawn."""
        return (
            (self.width - self.frame_width) // 2,
            self.header_height + MARGIN,
            self.frame_width,
            self.frame_height,
        )

    def open(self) -> None:
        pygame.display.init()
        pygame.font.init()
        pygame.display.set_caption(self.title)
        self.screen = pygame.display.set_mode((self.width, self.height))
        self.font = pygame.font.SysFont("mono", FONT_SIZE) or pygame.font.Font(None, FONT_SIZE)
        self.clock = pygame.time.Clock()
        if self.uses_mouse:  # relative motion without a cursor leaving the window
            pygame.mouse.set_visible(False)
            pygame.event.set_grab(True)
        log.debug("window open (%dx%d)", self.width, self.height)

    def close(self) -> None:
        if self.uses_mouse and self.screen is not None:
            pygame.event.set_grab(False)
            pygame.mouse.set_visible(True)
        pygame.display.quit()
        pygame.font.quit()
        self.screen = None

    # ------------------------------------------------------------------ events

    def event_input(self, event: Any) -> Optional[Input]:
        """The session's input of one pygame event (None: nothing for the session)."""
        if event.type in (pygame.KEYDOWN, pygame.KEYUP):
            return key_input(pygame.key.name(event.key), event.type == pygame.KEYDOWN, self.app.bindings)
        if not self.uses_mouse:
            return None
        if event.type == pygame.MOUSEMOTION:
            return MouseMove(float(event.rel[0]), float(event.rel[1]))
        if event.type in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP) and event.button in MOUSE_BUTTONS:
            return MouseButton(MOUSE_BUTTONS[event.button], event.type == pygame.MOUSEBUTTONDOWN)
        return None

    def handle_event(self, event: Any) -> None:
        if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
            self.should_stop = True
        elif event.type == pygame.WINDOWFOCUSLOST:
            self.app.release_all()
        else:
            inp = self.event_input(event)
            if inp is not None:
                self.app.handle(inp)

    def poll_events(self) -> None:
        for event in pygame.event.get():
            self.handle_event(event)

    # ------------------------------------------------------------------ drawing

    def draw(self) -> None:
        assert self.screen is not None and self.font is not None
        self.screen.fill((0, 0, 0))
        if self.show_header:
            x, y, w, h = self.header_rect
            pygame.draw.rect(self.screen, (255, 255, 255), pygame.Rect(x, y, w, h), 1)
            columns = self.app.header()
            col_w = w // max(1, len(columns))
            measure = lambda t: self.font.size(t)[0]  # noqa: E731
            for j, col in enumerate(columns):
                for i, text in enumerate(col[: self.header_lines]):
                    if text:
                        span = 1
                        while j + span < len(columns) and not _line(columns[j + span], i):
                            span += 1  # the next column's line is empty: this text may take its room
                        text = fit_text(text, span * col_w - 8, measure)  # 6 px left padding, 2 right
                        surf = self.font.render(text, True, (255, 255, 255))
                        self.screen.blit(surf, (x + 6 + j * col_w, y + 4 + i * LINE_HEIGHT))
        frame = self.app.frame
        fx, fy, fw, fh = self.frame_rect
        if frame is not None:
            img = frame_to_surface_array(frame, (fw, fh))
            surface = pygame.surfarray.make_surface(img.transpose(1, 0, 2))
            self.screen.blit(surface, (fx, fy))
        else:
            for i, text in enumerate(self.message_lines()):  # across the whole window: paths are long
                surf = self.font.render(text, True, ERROR_COLOR)
                self.screen.blit(surf, (MARGIN + 4, fy + 4 + i * LINE_HEIGHT))
        pygame.draw.rect(self.screen, FRAME_BORDER, pygame.Rect(fx - 1, fy - 1, fw + 2, fh + 2), 1)

    def message_lines(self) -> list[str]:
        """The app's `error`, wrapped to the window's width (drawn in the frame's place when there is no frame)."""
        error = getattr(self.app, "error", None)
        if not error:
            return []
        char_width = self.font.size("M")[0] if self.font is not None else FONT_SIZE // 2
        width = max(8, (self.width - 2 * MARGIN - 8) // max(1, char_width))
        lines = textwrap.wrap(error, width, break_long_words=True, break_on_hyphens=False)
        max_lines = max(1, (self.frame_height - 8) // LINE_HEIGHT)
        if len(lines) > max_lines:
            lines = lines[: max_lines - 1] + [lines[max_lines - 1][: width - 3] + "..."]
        return lines

    def stop(self) -> None:
        """Close the window at the end of the current frame (SIGTERM)."""
        if not self.should_stop:
            log.info("terminated: closing the window")
        self.should_stop = True

    def tick(self) -> None:
        """One frame: events, one app update, drawing."""
        self.poll_events()
        if self.should_stop:
            return
        self.app.update()
        self.draw()
        pygame.display.flip()
        self.frames_drawn += 1
        if self.clock is not None and self.fps > 0:
            self.clock.tick(self.fps)

    def run(self, max_frames: Optional[int] = None, screenshot: Optional[str | Path] = None) -> int:
        """Run until Esc / window closed (or `max_frames` frames); returns the number of frames drawn."""
        if self.screen is None:
            self.open()
        try:
            with on_termination(self.stop):  # after open(): SDL installs a SIGTERM handler of its own there
                while not self.should_stop and (max_frames is None or self.frames_drawn < max_frames):
                    self.tick()
            if screenshot is not None:
                self.save_screenshot(screenshot)
        finally:
            self.close()
        return self.frames_drawn

    def save_screenshot(self, path: str | Path) -> Path:
        """The window's content as an image file (PNG by extension)."""
        assert self.screen is not None
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.screen, str(path))
        log.info("screenshot saved to %s", path)
        return path
