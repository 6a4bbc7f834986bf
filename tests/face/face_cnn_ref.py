"""PyTorch reference of face-api's tiny face detector (numbers only)."""
import json, math, sys
import numpy as np
import torch
import torch.nn.functional as F

ANCHORS = [(1.603231, 2.094468), (6.041143, 7.080126), (2.882459, 3.518061),
           (4.266906, 5.178857), (9.041765, 10.66308)]
MEAN = (117.001, 114.697, 97.404)

def load(manifest, binpath):
    m = json.load(open(manifest))
    raw = open(binpath, 'rb').read()
    off = 0; w = {}
    for e in m[0]['weights']:
        n = math.prod(e['shape']); q = e['quantization']
        a = np.frombuffer(raw, np.uint8, n, off).astype(np.float32) * np.float32(q['scale']) + np.float32(q['min'])
        off += n
        w[e['name']] = torch.from_numpy(a.reshape(e['shape']).copy())
    assert off == len(raw)
    return w

def resize_legacy(img, size):
    """TF resizeBilinear, alignCorners=false, halfPixelCenters=false; img HxWx3 float."""
    h, w, _ = img.shape
    def axis(n_in):
        s = np.arange(size, dtype=np.float64) * (n_in / size)
        i0 = np.floor(s).astype(int); i1 = np.minimum(i0 + 1, n_in - 1); f = s - i0
        return i0, i1, f
    y0, y1, fy = axis(h); x0, x1, fx = axis(w)
    top = img[y0][:, x0] * (1 - fx)[None, :, None] + img[y0][:, x1] * fx[None, :, None]
    bot = img[y1][:, x0] * (1 - fx)[None, :, None] + img[y1][:, x1] * fx[None, :, None]
    return top * (1 - fy)[:, None, None] + bot * fy[:, None, None]

def prepare(img, size):
    """uint8 HxWx3 RGB -> 1x3xSxS tensor: zero pad right/bottom to a square, resize, centre."""
    h, w, _ = img.shape
    s = max(h, w)
    sq = np.zeros((s, s, 3), np.float64); sq[:h, :w] = img
    if s != size:
        sq = resize_legacy(sq, size)
    x = (sq - np.array(MEAN)) / 255.0
    return torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1)[None]

def leaky(x):
    return F.leaky_relu(x, 0.1)

def pool(x, stride):
    # TF 'same' 2x2 max pool: padding at the end only
    h, w = x.shape[2:]
    oh, ow = -(-h // stride), -(-w // stride)
    ph = max((oh - 1) * stride + 2 - h, 0); pw = max((ow - 1) * stride + 2 - w, 0)
    x = F.pad(x, (0, pw, 0, ph), value=-math.inf)
    return F.max_pool2d(x, 2, stride)

def sep(x, w, name):
    dw = w[name + '/depthwise_filter'].permute(2, 3, 0, 1)  # C,1,3,3
    pw = w[name + '/pointwise_filter'].permute(3, 2, 0, 1)  # Co,C,1,1
    x = F.conv2d(x, dw, padding=1, groups=x.shape[1])
    return leaky(F.conv2d(x, pw, w[name + '/bias']))

def forward(w, x):
    x = leaky(F.conv2d(x, w['conv0/filters'].permute(3, 2, 0, 1), w['conv0/bias']))
    for i in range(1, 6):
        x = pool(x, 2)
        x = sep(x, w, 'conv%d' % i)
    x = pool(x, 1)
    return F.conv2d(x, w['conv8/filters'].permute(3, 2, 0, 1), w['conv8/bias'])

def decode(out, h, w, size, thr=0.5):
    """Boxes in image pixels (x0, y0, x1, y1, score) above thr, before NMS."""
    n = out.shape[2]
    o = out[0].reshape(5, 5, n, n).permute(2, 3, 0, 1).double().numpy()  # row,col,anchor,5
    s = max(h, w); res = []
    sig = lambda v: 1 / (1 + math.exp(-v))
    for r in range(n):
        for c in range(n):
            for a in range(5):
                sc = sig(o[r, c, a, 4])
                if sc <= thr: continue
                cx = (c + sig(o[r, c, a, 0])) / n * s; cy = (r + sig(o[r, c, a, 1])) / n * s
                bw = math.exp(o[r, c, a, 2]) * ANCHORS[a][0] / n * s
                bh = math.exp(o[r, c, a, 3]) * ANCHORS[a][1] / n * s
                res.append((cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, sc))
    return res

def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0])); iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    i = ix * iy; u = (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - i
    return i / u if u > 0 else 0

def nms(boxes, thr=0.4):
    boxes = sorted(boxes, key=lambda b: -b[4]); keep = []
    for b in boxes:
        if all(iou(b, k) <= thr for k in keep): keep.append(b)
    return keep

def detect(w, img, size=416, thr=0.5):
    h, wd, _ = img.shape
    with torch.no_grad():
        out = forward(w, prepare(img, size))
    return nms(decode(out, h, wd, size, thr))

if __name__ == '__main__':
    from PIL import Image
    w = load(sys.argv[1], sys.argv[2])
    img = np.asarray(Image.open(sys.argv[3]).convert('RGB'))
    for size in (224, 320, 416, 512):
        print(size, [tuple(round(v, 3) for v in b) for b in detect(w, img, size, 0.3)])
