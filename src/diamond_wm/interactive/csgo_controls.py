"""Keys (by name), mouse motion and buttons of a human CS:GO player -> the world model's 51-dim action
(`envs.csgo.encode`).

The keys of the CS:GO keymap (w a s d, space, left ctrl, left shift, 1 2 3, r, and the arrow keys that turn the
camera) are kept in the order they were pressed, while held: of two opposite keys the one pressed first wins.
The mouse's relative motion of one frame (the sum of the frame's motion events, in pixels) is multiplied by
`mouse_multiplier` and snapped to the nearest mouse bin; left and right buttons are the clicks, while held.
Any other key is ignored here: the session's commands (m, `.`, e, return) never reach the controls.
"""

from __future__ import annotations

from diamond_wm.envs.csgo import CSGOAction, encode
from diamond_wm.envs.csgo.actions import KEY_ACTIONS

DEFAULT_MOUSE_MULTIPLIER = 10.0


def describe_action(action: CSGOAction) -> tuple[str, str, str]:
    """(keys, mouse, clicks) for the header: 'w + a', 'x 20, y -4', 'left'."""
    keys = " + ".join(action.keys) if action.keys else "-"
    clicks = " + ".join(n for n, on in (("left", action.l_click), ("right", action.r_click)) if on) or "-"
    return keys, f"x {action.mouse_x}, y {action.mouse_y}", clicks


class CSGOControls:
    """The human player's keys, mouse motion and buttons; `action()` reads them once per frame."""

    def __init__(self, mouse_multiplier: float = DEFAULT_MOUSE_MULTIPLIER) -> None:
        if not mouse_multiplier > 0:
            raise ValueError(f"mouse multiplier {mouse_multiplier!r}: expected a number > 0")
        self.mouse_multiplier = float(mouse_multiplier)
        self.pressed: list[str] = []  # held keys of the keymap, in press order
        self.mouse_dx = 0.0  # pixels of relative motion since the last action, times the multiplier
        self.mouse_dy = 0.0
        self.l_click = False
        self.r_click = False

    def key_down(self, key: str) -> bool:
        """A key press, by name; False when the key is not one of the game's."""
        if key not in KEY_ACTIONS:
            return False
        if key not in self.pressed:
            self.pressed.append(key)
        return True

    def key_up(self, key: str) -> None:
        if key in self.pressed:
            self.pressed.remove(key)

    def mouse_motion(self, dx: float, dy: float) -> None:
        """Relative motion (dx, dy) of one motion event, y growing downwards."""
        self.mouse_dx += float(dx) * self.mouse_multiplier
        self.mouse_dy += float(dy) * self.mouse_multiplier

    def mouse_button(self, button: str, down: bool) -> None:
        """The "left" or "right" button pressed (down) or released; any other is ignored."""
        if button == "left":
            self.l_click = down
        elif button == "right":
            self.r_click = down

    def action(self) -> CSGOAction:
        """The action of what is held now and the motion since the last call (which this call consumes)."""
        action = encode(self.pressed, self.mouse_dx, self.mouse_dy, self.l_click, self.r_click)
        self.mouse_dx = self.mouse_dy = 0.0
        return action

    def release_all(self) -> None:
        """Forget held keys, buttons and motion (a new episode starts with nothing pressed)."""
        self.pressed.clear()
        self.mouse_dx = self.mouse_dy = 0.0
        self.l_click = self.r_click = False

    def describe(self) -> list[str]:
        """The key map, one line per key: 'w : up'."""
        lines = [f"{name:>12} : {action}" for name, action in KEY_ACTIONS.items()]
        lines += [
            f"{'mouse':>12} : look (relative motion x {self.mouse_multiplier:g}, --mouse-multiplier)",
            f"{'left button':>12} : l_click",
            f"{'right button':>12} : r_click",
        ]
        return lines
