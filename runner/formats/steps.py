"""The one internal step model both recording formats are normalised into, and the `Script` that holds it.

A step's `type` keeps the name the recording used (`change` for a Recorder step, `fill` for a native one),
so results read in the recording's own words; the class says what the runner does.

Selectors: a step that targets an element carries `selectors`, a tuple of alternatives tried in order.
Each alternative is a chain of parts (`SelectorChain`); a one-part chain is the common case, later parts
are looked up inside the element the earlier ones matched (its shadow root, or its document for an iframe).
Parts keep the Recorder's prefixes (`aria/`, `text/`, `xpath/`, `pierce/`, else CSS); see
`runner.formats.selectors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

SelectorChain = tuple[str, ...]
Selectors = tuple[SelectorChain, ...]

MatchMode = Literal["equals", "contains"]
ElementState = Literal["visible", "hidden", "attached", "detached"]
CountOperator = Literal[">=", "==", "<="]
MouseButton = Literal["left", "middle", "right"]
# A click's button: the mouse's three, and the Recorder's `back` and `forward` (pressed through CDP).
ClickButton = Literal["left", "middle", "right", "back", "forward"]


@dataclass(frozen=True, kw_only=True)
class Step:
    type: str
    timeout_ms: int | None = None  # the step's own wait; None = the script's, else the run's default
    frame: tuple[int, ...] = ()  # child-frame indices from the page's main frame (Recorder `frame`)
    target: str | None = None  # Recorder `target`: "main" or the URL of another page (a popup)
    expect_navigation: str | None = None  # Recorder assertedEvents: the step navigates (to this URL, or "")


@dataclass(frozen=True, kw_only=True)
class ElementStep(Step):
    selectors: Selectors


@dataclass(frozen=True, kw_only=True)
class Navigate(Step):
    url: str


@dataclass(frozen=True, kw_only=True)
class CustomStep(Step):
    """A Recorder `customStep`: replayed by a Recorder extension, which no replay here has. It is skipped with a
    warning naming the extension's step (refused instead with the run option `strictCustomSteps`)."""

    name: str


@dataclass(frozen=True, kw_only=True)
class Click(ElementStep):
    button: ClickButton = "left"
    click_count: int = 1
    offset: tuple[float, float] | None = None  # from the element's top-left corner; None = its centre
    delay_ms: float | None = None  # between mouse down and up


@dataclass(frozen=True, kw_only=True)
class Hover(ElementStep):
    pass


@dataclass(frozen=True, kw_only=True)
class Fill(ElementStep):
    """Set a field's value; on a <select> this picks the option (as the Recorder's `change` does)."""

    value: str


@dataclass(frozen=True, kw_only=True)
class SelectOption(ElementStep):
    value: str  # an option's value, else its label


@dataclass(frozen=True, kw_only=True)
class KeyDown(Step):
    key: str


@dataclass(frozen=True, kw_only=True)
class KeyUp(Step):
    key: str


@dataclass(frozen=True, kw_only=True)
class Press(Step):
    key: str
    selectors: Selectors | None = None  # focus this element first; None = whatever has focus


@dataclass(frozen=True, kw_only=True)
class WaitForElement(ElementStep):
    """Recorder `waitForElement`: the number of matching *visible* elements compared with `count` by
    `operator`; `visible=False` inverts the whole condition (so it waits for the elements to be hidden).

    @puppeteer/replay counts matching elements whether visible or not, which makes `visible` a bare
    inversion; counting visible ones makes "wait for #panel" wait until it shows, as a person expects.
    """

    operator: CountOperator = ">="
    count: int = 1
    visible: bool = True
    attributes: dict[str, str] | None = None
    properties: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class WaitForState(ElementStep):
    """Native `waitForSelector`: one element reaches `state`."""

    state: ElementState = "visible"


@dataclass(frozen=True, kw_only=True)
class WaitForExpression(Step):
    expression: str


@dataclass(frozen=True, kw_only=True)
class Viewport:
    width: int
    height: int
    device_scale_factor: float = 1.0
    is_mobile: bool = False
    has_touch: bool = False
    is_landscape: bool = False


@dataclass(frozen=True, kw_only=True)
class SetViewport(Step):
    """Resize the page. Scale factor, mobile and touch are properties of the browser context: they apply
    when the recording's first step is this one (`Script.viewport`), and are ignored later in a run."""

    viewport: Viewport


@dataclass(frozen=True, kw_only=True)
class Scroll(Step):
    x: float = 0
    y: float = 0
    selectors: Selectors | None = None  # scroll this element; None = the page


@dataclass(frozen=True, kw_only=True)
class ClosePage(Step):
    pass


@dataclass(frozen=True, kw_only=True)
class EmulateNetwork(Step):
    download: float  # bytes/s, -1 = no limit; 0 with upload 0 = offline
    upload: float
    latency: float  # ms


@dataclass(frozen=True, kw_only=True)
class AssertText(ElementStep):
    text: str
    match: MatchMode = "equals"


@dataclass(frozen=True, kw_only=True)
class AssertVisible(ElementStep):
    pass


@dataclass(frozen=True, kw_only=True)
class AssertUrl(Step):
    url: str
    match: MatchMode = "equals"


ScriptFormat = Literal["native", "chrome-recorder", "saveaction"]


@dataclass(frozen=True, kw_only=True)
class ImportNote:
    """Something in a recording the import could not replay as recorded, reported rather than dropped:
    `index` is the recording's own action index, `action` its type, `reason` what happened instead."""

    index: int
    action: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "action": self.action, "reason": self.reason}

    def __str__(self) -> str:
        return f"actions[{self.index}] ({self.action}): {self.reason}"


@dataclass(frozen=True, kw_only=True)
class Script:
    name: str
    format: ScriptFormat
    steps: list[Step] = field(default_factory=list)
    viewport: Viewport | None = None  # the browser context's viewport, when the recording sets one first
    timeout_ms: int | None = None  # the recording's default step timeout (Recorder `timeout`)
    warnings: tuple[ImportNote, ...] = ()  # what the import skipped or approximated (SaveAction)


def describe_selectors(selectors: Selectors) -> str:
    """`"#a"`, or `"#a", "aria/Go"`; a chain reads `"host" >> "button"`."""
    return ", ".join(" >> ".join(f'"{part}"' for part in chain) for chain in selectors)


NAVIGABLE_SCHEMES = ("http", "https")


def url_problem(url: str) -> str | None:
    """Why a navigate step's URL cannot be replayed, or None: an absolute http(s) URL, or about:blank."""
    if url == "about:blank":
        return None
    parsed = urlsplit(url)
    if not parsed.scheme:
        return f"URL {url!r} is not absolute (expected http:// or https://)"
    if parsed.scheme.lower() not in NAVIGABLE_SCHEMES:
        return f"URL scheme {parsed.scheme!r} is not allowed (expected http or https)"
    if not parsed.hostname:
        return f"URL {url!r} has no host"
    return None


# Steps of the native format's later actions.

TextMatch = Literal["equals", "contains", "matches"]  # `matches`: a regular expression, searched by RE2
LoadState = Literal["load", "domcontentloaded", "networkidle"]
Modifier = Literal["Alt", "Control", "Meta", "Shift"]


@dataclass(frozen=True, kw_only=True)
class ModifierClick(ElementStep):
    """A click with modifier keys held (a plain click is `Click`)."""

    modifiers: tuple[Modifier, ...]
    button: MouseButton = "left"
    click_count: int = 1
    offset: tuple[float, float] | None = None


@dataclass(frozen=True, kw_only=True)
class TypeText(ElementStep):
    """Focus the element and press the keys of `value` one by one (`delay_ms` between them)."""

    value: str
    delay_ms: float | None = None


@dataclass(frozen=True, kw_only=True)
class SetChecked(ElementStep):
    checked: bool


@dataclass(frozen=True, kw_only=True)
class UploadFile:
    name: str
    mime_type: str
    content: bytes


@dataclass(frozen=True, kw_only=True)
class Upload(ElementStep):
    files: tuple[UploadFile, ...]


@dataclass(frozen=True, kw_only=True)
class ScrollIntoView(ElementStep):
    pass


@dataclass(frozen=True, kw_only=True)
class DragAndDrop(ElementStep):
    """Drag the element of `selectors` onto the element of `target_selectors`."""

    target_selectors: Selectors


@dataclass(frozen=True, kw_only=True)
class WaitForUrl(Step):
    """The page's URL matches; `assertion` says whether a mismatch is an assertion failure or a timeout."""

    url: str
    match: TextMatch = "equals"
    assertion: bool = False


@dataclass(frozen=True, kw_only=True)
class WaitForLoadState(Step):
    state: LoadState = "load"


@dataclass(frozen=True, kw_only=True)
class Sleep(Step):
    ms: int


@dataclass(frozen=True, kw_only=True)
class WaitForFunction(Step):
    """A JavaScript expression becomes truthy, evaluated in the frame reached through `frame_selectors`
    (iframe selectors from the page's main frame; empty = the main frame)."""

    expression: str
    frame_selectors: SelectorChain = ()


@dataclass(frozen=True, kw_only=True)
class AssertHidden(ElementStep):
    """No element matches, or none of those that match is visible."""


@dataclass(frozen=True, kw_only=True)
class AssertElement(ElementStep):
    """An element's text, value or attribute `name` compared with `expected`."""

    what: Literal["text", "value", "attribute"]
    expected: str
    match: TextMatch = "equals"
    name: str | None = None  # the attribute's name


@dataclass(frozen=True, kw_only=True)
class AssertCount(ElementStep):
    """The number of matching elements (visible or not) compared with `count` by `operator`."""

    count: int
    operator: CountOperator = "=="


@dataclass(frozen=True, kw_only=True)
class AssertTitle(Step):
    text: str
    match: TextMatch = "equals"


@dataclass(frozen=True, kw_only=True)
class Screenshot(Step):
    """A named PNG of the page, or of one element when `selectors` is given.

    `compare`: compared with the saved recording's approved baseline for this step and viewport (contract.visual);
    the step fails [visual_diff] when more than `threshold` of its pixels (a fraction), or more than
    `max_diff_pixels` when given, differ. `mask_selectors`: elements of the page painted out in both images."""

    name: str
    selectors: Selectors | None = None
    full_page: bool = False
    compare: bool = False
    threshold: float = 0.0
    max_diff_pixels: int | None = None
    mask_selectors: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SwitchToFrame(Step):
    """Later steps run inside this iframe (the native parser prefixes their selectors with `selectors`);
    at replay it checks that the iframe is there. `selectors=None` is `switchToMainFrame`."""

    selectors: Selectors | None = None


@dataclass(frozen=True, kw_only=True)
class SwitchToPage(Step):
    """Later steps run in another page of the context (a tab or popup), found by index or URL part."""

    index: int | None = None
    url_contains: str | None = None


@dataclass(frozen=True, kw_only=True)
class HandleDialog(Step):
    """Answer the next dialog (alert, confirm, prompt) the page opens: accept (with `prompt_text`) or dismiss."""

    accept: bool = True
    prompt_text: str | None = None
