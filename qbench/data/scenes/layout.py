"""A scene's layout as typed, immutable values: everything drawn from the seed before a pixel is rendered.

World coordinates are metres: X across the street (camera at X=0, left negative), Y up from the ground,
Z away from the camera. Nothing here depends on the resolution, so one layout renders at any size.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

#: What a facade block is (``Blocks.kind``): a building, or trees with nothing, a wall or a fence below them.
BLOCK_BUILDING, BLOCK_TREES, BLOCK_WALL, BLOCK_FENCE = 0, 1, 2, 3


@dataclass(frozen=True)
class Camera:
    f: float  # focal length, in image heights
    hc: float  # height above the ground
    v_h: float  # horizon row, as a fraction of the image height
    u_v: float  # vanishing point column, as a fraction of the image width


@dataclass(frozen=True)
class Strip:
    """A band of the street's cross-section between a kerb and the facades."""

    cls: int  # SIDEWALK or TERRAIN
    width: float


@dataclass(frozen=True)
class Street:
    kerbs: tuple[float, float]  # X of the left and the right kerb
    lane_w: float
    lane_off: float  # X of the camera lane's centre
    lanes: tuple[int, int]  # lanes from the camera's own (included) to the left kerb, and to the right kerb
    centre_yellow: bool  # markings are yellow, the boundary left of the camera lane solid
    strips: tuple[tuple[Strip, ...], tuple[Strip, ...]]  # outward from the left and from the right kerb
    facade_x: tuple[float, float]  # X of the left and the right facades
    z_end: float  # depth of the far facade that closes the street


@dataclass(frozen=True)
class Blocks:
    """Facade blocks along one street side (positions are Z) or across the street end (positions are X)."""

    edges: np.ndarray  # (n+1,) block boundaries
    kind: np.ndarray  # (n,) BLOCK_*
    h_top: np.ndarray  # (n,) roof or tree-top height
    h_low: np.ndarray  # (n,) ground-floor height of a building; wall or fence height under trees (0: none)
    col: np.ndarray  # (n, 3) float32 facade or foliage colour
    col2: np.ndarray  # (n, 3) float32 wall or fence colour
    windows: np.ndarray  # (n, 6) window grid: period along, period up, fill fractions along and up, offset, tint
    tree_grid: np.ndarray  # wobble of the tree tops, one value every ``tree_step`` from ``edges[0]``
    tree_step: float

    def heights(self, z: np.ndarray, tree_amp: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Block index and top height (metres) of the blocks at positions ``z`` along them."""
        b = np.clip(np.searchsorted(self.edges, z, side="right") - 1, 0, len(self.kind) - 1)
        top = self.h_top[b]
        veg = self.kind[b] != BLOCK_BUILDING
        tg = self.tree_grid
        t = (z - self.edges[0]) / self.tree_step
        i = np.clip(t.astype(np.int64), 0, len(tg) - 2)
        ft = np.clip(t - i, 0.0, 1.0)
        wobble = tg[i] * (1 - ft) + tg[i + 1] * ft
        top = np.where(veg, top + tree_amp * 1.5 * wobble, top)
        return b, top


@dataclass(frozen=True)
class Dashes:
    """Dashed lane boundaries along Z."""

    period: float
    length: float
    phase: float


@dataclass(frozen=True)
class Ground:
    asphalt: np.ndarray  # float32 RGB
    paving: np.ndarray  # float32 RGB of the sidewalk
    tile: float  # sidewalk tile size
    grass: np.ndarray  # float32 RGB
    earth: np.ndarray  # float32 RGB
    dashes: Dashes
    crosswalk: float | None  # Z of a zebra crossing's near edge, if any
    texture: np.ndarray  # (6, 11) grid of low-frequency brightness variation


@dataclass(frozen=True)
class Sky:
    overcast: bool
    top: np.ndarray  # float32 RGB at the top of the image
    horizon: np.ndarray  # float32 RGB at the horizon (also the colour of haze)
    clouds: np.ndarray  # (5, 11) grid of cloud density
    cloud_amount: float


@dataclass(frozen=True)
class Lighting:
    sun_side: int  # -1 or 1: the side whose facades cast shadows on the street (and stand in their own shade)
    shadow_k: float  # shadow reach per metre of facade height (0: overcast, no cast shadows)
    shadow_dark: float  # brightness inside cast shadows
    shade_side: float  # brightness of the sun-side facades


@dataclass(frozen=True)
class Haze:
    amount: float  # strength approached at infinite depth
    half_depth: float  # depth at which it reaches half that


@dataclass(frozen=True)
class Photo:
    """The camera's response to the rendered light."""

    gain: float
    wb: np.ndarray  # float32 RGB white balance
    tone: float  # tone curve x * (1 + tone (1 - x))
    haze: Haze
    vignette: float
    noise: float  # sensor noise, standard deviation in 0..255 levels
    blur: bool


@dataclass(frozen=True)
class Hood:
    """The ego-vehicle's bonnet at the bottom of the frame (labelled ignore)."""

    height: float  # fraction of the image height at its middle
    colour: np.ndarray  # float32 RGB


# --- objects standing on the ground; ``z`` is the depth of the nearest face (drawing order) --------------------


@dataclass(frozen=True)
class Vehicle:
    kind: int  # CAR, TRUCK or BUS
    z: float
    x: float  # centre
    w: float
    h: float
    length: float
    col: np.ndarray  # body
    col2: np.ndarray  # a truck's cab
    front: bool  # seen from the front (oncoming), else from behind
    glass: float  # brightness of the windows
    lit: bool  # brake lights on


@dataclass(frozen=True)
class Figure:
    """How a person looks, walking or riding."""

    h: float
    shirt: np.ndarray
    pants: np.ndarray
    skin: np.ndarray
    hair: np.ndarray
    phase: float  # stride, -1..1
    bag: bool
    helmet: np.ndarray | None  # colour, riders only
    back: bool  # seen from behind


@dataclass(frozen=True)
class Pedestrian:
    z: float
    x: float
    figure: Figure


@dataclass(frozen=True)
class Rider:
    """A cyclist: the person is labelled rider, the bicycle bicycle."""

    z: float
    x: float
    side_view: bool  # crossing, seen from the side; else along the road, seen from behind or in front
    dir: int  # -1 or 1: heading left or right in a side view
    figure: Figure
    col: np.ndarray  # frame colour


@dataclass(frozen=True)
class ParkedBicycle:
    z: float
    x: float
    dir: int
    col: np.ndarray


@dataclass(frozen=True)
class Sign:
    shape: int  # 0 circle, 1 triangle, 2 diamond, 3 rectangle, 4 wide rectangle
    y: float  # centre height
    r: float
    style: int  # index of the outer/inner colour pair


@dataclass(frozen=True)
class Signs:
    signs: tuple[Sign, ...]


@dataclass(frozen=True)
class PoleLights:
    lamp: int  # lit lamp: 0 red, 1 amber, 2 green
    housing: float  # grey level of the housing
    over: bool  # a second light hangs on an arm over the road
    arm: float


@dataclass(frozen=True)
class LampArm:
    arm: float


@dataclass(frozen=True)
class Pole:
    z: float
    x: float
    w: float
    h: float
    col: np.ndarray
    side: int  # -1 or 1: the street side it stands on
    attachment: Signs | PoleLights | LampArm | None


@dataclass(frozen=True)
class Gantry:
    """A signal gantry across the road."""

    z: float
    x0: float
    x1: float
    y: float  # height of the beam
    lamps: tuple[tuple[float, int], ...]  # (X, lit lamp) of each traffic light hanging from it
    col: np.ndarray
    housing: float


@dataclass(frozen=True)
class Tree:
    z: float
    x: float
    h: float
    r: float  # crown radius
    col: np.ndarray
    trunk: float  # trunk width


SceneObject = Vehicle | Pedestrian | Rider | ParkedBicycle | Pole | Gantry | Tree


@dataclass(frozen=True)
class Scene:
    camera: Camera
    street: Street
    blocks: tuple[Blocks, Blocks]  # left and right facades
    far: Blocks  # the facade across the street end
    facade_texture: np.ndarray  # (6, 11) grid of low-frequency brightness variation
    ground: Ground
    sky: Sky
    lighting: Lighting
    photo: Photo
    hood: Hood | None
    objects: tuple[SceneObject, ...]  # far to near
