#!/usr/bin/python3
"""Facet's engine against PyTorch: the same checkpoints, the same images.

Run by meson (suite 'parity'); FACET_CLI names the facet-cli binary. Each
test writes real torch.save() checkpoints, runs `facet-cli predict`, and
compares with the torchvision-based reference in fmae_reference.py.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmae_reference as ref  # noqa: E402

CLI = os.environ.get("FACET_CLI", "facet-cli")
SHARED = os.environ.get("FACET_TESTDATA", "")
TOL = 1e-4


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def run_cli(*args, check=True):
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"facet-cli {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}")
    return p


def predict(model, images, *extra):
    p = run_cli("predict", "--model", model, "--crop", "none", "--json", *extra, *images)
    return [json.loads(line) for line in p.stdout.splitlines()]


class Workdir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="facet-parity-")
        torch.set_num_threads(2)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def images(self, size=224, count=3):
        paths = ref.write_test_images(self.dir, size, count, seed=size)
        astronaut = os.path.join(SHARED, "astronaut.png")
        if os.path.exists(astronaut):
            paths.append(astronaut)  # 512x512: exercises the resize as well
        return paths

    def assertClose(self, facet, torch_values, tol=TOL, what="logits"):
        a = np.asarray(facet, dtype=np.float64)
        b = torch_values.detach().double().numpy().reshape(a.shape)
        err = np.abs(a - b).max()
        self.assertLess(err, tol, f"{what}: max abs difference {err:.3g} >= {tol}")
        return err


class VitParity(Workdir):
    """ViT-S/16 and ViT-B/16 FMAE-IAT checkpoints, as the training scripts save them."""

    def check_model(self, name, dim, depth, heads, n_subjects=41):
        sd = ref.make_state_dict(dim, depth, heads, 12, n_subjects=n_subjects, seed=dim)
        ckpt = self.path(f"{name}.pth")
        ref.save_checkpoint(ckpt, sd, ref.fmae_args(model=f"vit_{name}_patch16"))
        images = self.images()
        x = torch.stack([ref.load_png_tensor(p, 224) for p in images])
        want = ref.reference_forward(sd, x, heads)

        got = predict(ckpt, images, "--attention", "--features")
        self.assertEqual(len(got), len(images))
        self.assertEqual(got[0]["au"], ref.BP4D_AUS)
        err = self.assertClose([g["logit"] for g in got], want["logits"])
        self.assertClose([g["prob"] for g in got], want["probs"], what="probabilities")
        self.assertClose([g["pooled"] for g in got], want["pooled"], what="pooled features")
        self.assertClose([g["id_logit"] for g in got], want["id_logits"], what="identity logits")
        self.assertClose([g["attention"] for g in got], want["rollout"], tol=1e-5, what="rollout")
        print(f"{name}: max |logit difference| {err:.2e}; logits span "
              f"{want['logits'].min():.2f}..{want['logits'].max():.2f}")

        # Batching must not change results.
        single = predict(ckpt, images[:1], "--batch", "1")
        self.assertClose(single[0]["logit"], want["logits"][0], what="batch of one")

        # The same model through safetensors (made by `model convert`) gives the same numbers.
        st = self.path(f"{name}.safetensors")
        run_cli("model", "convert", ckpt, st)
        again = predict(st, images)
        np.testing.assert_array_equal(np.array([g["logit"] for g in again]),
                                      np.array([g["logit"] for g in got]))

    def test_vit_small(self):
        self.check_model("small", 384, 12, 6)

    def test_vit_base(self):
        self.check_model("base", 768, 12, 12)


class FormatParity(Workdir):
    """The many shapes a checkpoint file can take."""

    dim, depth, heads = 192, 4, 3

    def model(self, seed=1, **kw):
        return ref.make_state_dict(self.dim, self.depth, self.heads, 12, seed=seed, **kw)

    def reference(self, sd, images, readout="global-pool"):
        x = torch.stack([ref.load_png_tensor(p, 224) for p in images])
        return ref.reference_forward(sd, x, self.heads, readout=readout)

    def test_half_and_bfloat16(self):
        images = self.images(count=2)
        for dtype in (torch.float16, torch.bfloat16):
            sd = {k: v.to(dtype) for k, v in self.model().items()}
            ckpt = self.path(f"m-{dtype}.pth")
            ref.save_checkpoint(ckpt, sd, ref.fmae_args(model="vit_tiny_patch16"))
            want = self.reference(sd, images)  # the same rounded weights, in fp32
            got = predict(ckpt, images)
            self.assertClose([g["logit"] for g in got], want["logits"], what=str(dtype))

    def test_pickle_protocols_and_layouts(self):
        sd = self.model(seed=2)
        images = self.images(count=1)
        want = self.reference(sd, images)
        for proto in (2, 3, 4, 5):
            for legacy in (False, True):
                ckpt = self.path(f"p{proto}-{legacy}.pth")
                ref.save_checkpoint(ckpt, sd, ref.fmae_args(model="vit_tiny_patch16"),
                                    pickle_protocol=proto, _use_new_zipfile_serialization=not legacy)
                got = predict(ckpt, images)
                self.assertClose(got[0]["logit"], want["logits"][0],
                                 what=f"protocol {proto}, legacy={legacy}")

    def test_bare_state_dict_ddp_prefix_and_views(self):
        sd = self.model(seed=3)
        images = self.images(count=1)
        want = self.reference(sd, images)
        # A bare state dict whose keys carry DistributedDataParallel's prefix,
        # an OrderedDict, and a head stored as a transposed (strided) view.
        bare = __import__("collections").OrderedDict(("module." + k, v) for k, v in sd.items())
        bare["module.head.weight"] = sd["head.weight"].t().contiguous().t()
        self.assertFalse(bare["module.head.weight"].is_contiguous())
        ckpt = self.path("bare.pth")
        torch.save(bare, ckpt)
        got = predict(ckpt, images, "--dataset", "BP4D")
        self.assertClose(got[0]["logit"], want["logits"][0])

    def test_cls_token_readout(self):
        sd = self.model(seed=4, readout="cls-token")
        images = self.images(count=2)
        want = self.reference(sd, images, readout="cls-token")
        ckpt = self.path("cls.pth")
        ref.save_checkpoint(ckpt, sd, ref.fmae_args(model="vit_tiny_patch16", global_pool=False))
        got = predict(ckpt, images, "--attention")
        self.assertClose([g["logit"] for g in got], want["logits"])
        self.assertClose([g["attention"] for g in got], want["rollout"], tol=1e-5, what="rollout")

    def test_mae_pretrain_checkpoint(self):
        sd = ref.make_state_dict(self.dim, self.depth, self.heads, 0, seed=5, mae_pretrain=True)
        ckpt = self.path("mae.pth")
        ref.save_checkpoint(ckpt, sd, ref.fmae_args(model="vit_tiny_patch16"))
        info = json.loads(run_cli("model", "info", "--json", ckpt).stdout)
        self.assertEqual(info["config"]["readout"], "cls-token")
        self.assertEqual(info["config"]["aus"], [])
        self.assertTrue(any("decoder" in n for n in info["notes"]), info["notes"])
        images = self.images(count=2)
        want = self.reference(sd, images, readout="cls-token")
        got = predict(ckpt, images, "--features")
        self.assertClose([g["pooled"] for g in got], want["pooled"], what="pooled features")
        # Without --features there is nothing to predict: a clear error.
        p = run_cli("predict", "--model", ckpt, "--crop", "none", images[0], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no AU head", p.stderr)
        # Converting with --aus creates a head (the recipe's init) and keeps the encoder.
        st = self.path("mae-head.safetensors")
        run_cli("model", "convert", ckpt, st, "--dataset", "DISFA")
        got = predict(st, images, "--features")
        self.assertEqual(got[0]["au"], ref.DISFA_AUS)
        self.assertClose([g["pooled"] for g in got], want["pooled"], what="pooled after convert")
        self.assertLess(max(abs(v) for g in got for v in g["logit"]), 1e-2)

    def test_au_maps_sum_to_logits(self):
        sd = self.model(seed=6)
        ckpt = self.path("maps.pth")
        ref.save_checkpoint(ckpt, sd, ref.fmae_args(model="vit_tiny_patch16"))
        images = self.images(count=2)
        got = predict(ckpt, images, "--au-maps")
        for g in got:
            maps = np.array(g["au_maps"])
            self.assertEqual(maps.shape, (12, 196))
            total = maps.sum(axis=1) + np.array(g["au_map_bias"])
            np.testing.assert_allclose(total, g["logit"], atol=1e-4)


class BadInput(Workdir):
    """Every damaged or hostile file gives exit status 1 and one line naming the file."""

    def expect_error(self, path, *words, args=()):
        p = run_cli("predict", "--model", path, "--crop", "none", *args,
                    ref.write_test_images(self.dir, 224, 1)[0], check=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn(os.path.basename(path), lines[0])
        for w in words:
            self.assertIn(w, lines[0])
        return lines[0]

    def good_checkpoint(self, name="good.pth"):
        sd = ref.make_state_dict(64, 2, 2, 12, seed=7)
        path = self.path(name)
        ref.save_checkpoint(path, sd, ref.fmae_args(model="vit_tiny_patch16"))
        return path, sd

    def test_truncated_zip(self):
        path, _ = self.good_checkpoint()
        data = read_bytes(path)
        for cut in (len(data) // 2, len(data) - 30, 100):
            bad = self.path(f"trunc{cut}.pth")
            write_bytes(bad, data[:cut])
            self.expect_error(bad)

    def test_wrong_magic_and_empty(self):
        bad = self.path("garbage.pth")
        write_bytes(bad, b"this is not a model at all\n" * 10)
        self.expect_error(bad, "not a model file")
        empty = self.path("empty.safetensors")
        open(empty, "wb").close()
        self.expect_error(empty, "empty")
        # A pickle that is not a torch checkpoint (legacy layout, wrong magic number).
        notmagic = self.path("plain.pth")
        with open(notmagic, "wb") as f:
            pickle.dump({"a": 1}, f, protocol=2)
        self.expect_error(notmagic, "magic")

    def zip_with_pickle(self, name, payload):
        """A torch-style zip archive whose data.pkl is @payload."""
        path = self.path(name)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", payload)
            z.writestr("archive/version", "3\n")
        return path

    def test_reduce_payload_is_never_run(self):
        marker = self.path("pwned")

        class Evil:
            def __reduce__(self):
                return (os.system, (f"touch {marker}",))

        path = self.zip_with_pickle("evil.pth", pickle.dumps({"model": Evil()}, protocol=2))
        line = self.expect_error(path, "no state dict")
        self.assertIn("system", line)  # the opaque object is named, not called
        self.assertFalse(os.path.exists(marker))
        # The same object hidden next to a real state dict is ignored, not run.
        good, sd = self.good_checkpoint()
        obj = torch.load(good)
        obj["extra"] = Evil()
        mixed = self.path("mixed.pth")
        torch.save(obj, mixed)
        p = run_cli("model", "info", "--json", mixed)
        self.assertIn("ignored checkpoint entry “extra”", p.stdout)
        self.assertFalse(os.path.exists(marker))

    def test_disallowed_opcodes(self):
        # EXT1 (the extension registry) and out-of-band buffers are refused.
        for name, payload in (("ext1.pth", b"\x80\x02\x82\x01."),
                              ("buffer.pth", b"\x80\x05\x97."),
                              ("unknown.pth", b"\x80\x02\xff.")):
            path = self.zip_with_pickle(name, payload)
            self.expect_error(path, "opcode")

    def test_storage_too_short(self):
        path, _ = self.good_checkpoint()
        bad = self.path("short.pth")
        with zipfile.ZipFile(path) as zin, zipfile.ZipFile(bad, "w", zipfile.ZIP_STORED) as zout:
            for item in zin.infolist():
                data = zin.read(item)
                if item.filename.endswith("/data/0"):
                    data = data[: len(data) // 2]
                zout.writestr(item, data)
        self.expect_error(bad, "storage too short")

    def test_shape_mismatch(self):
        sd = ref.make_state_dict(64, 2, 2, 12, seed=8)
        sd["blocks.1.mlp.fc1.weight"] = sd["blocks.1.mlp.fc1.weight"][:100]
        path = self.path("shape.pth")
        ref.save_checkpoint(path, sd)
        self.expect_error(path, "blocks.1.mlp.fc1.weight", "shape")
        # A config in safetensors metadata that disagrees with the tensors.
        good, _ = self.good_checkpoint()
        st = self.path("good.safetensors")
        run_cli("model", "convert", good, st)
        run_cli("model", "info", st)
        self.expect_error(st, "shape", args=("--aus", "1,2,4"))

    def test_nan_weights(self):
        sd = ref.make_state_dict(64, 2, 2, 12, seed=9)
        sd["blocks.0.attn.proj.weight"][3, 5] = float("nan")
        path = self.path("nan.pth")
        ref.save_checkpoint(path, sd)
        self.expect_error(path, "blocks.0.attn.proj.weight", "NaN")

    def test_missing_tensor_and_unknown_aus(self):
        sd = ref.make_state_dict(64, 2, 2, 10, seed=10)
        path = self.path("tenaus.pth")
        ref.save_checkpoint(path, sd)
        self.expect_error(path, "--aus")
        del sd["blocks.1.norm2.bias"]
        path2 = self.path("missing.pth")
        ref.save_checkpoint(path2, sd)
        self.expect_error(path2, "blocks.1.norm2.bias", args=("--aus", "1,2,3,4,5,6,7,8,9,10"))

    def test_truncated_safetensors(self):
        good, _ = self.good_checkpoint()
        st = self.path("t.safetensors")
        run_cli("model", "convert", good, st)
        data = read_bytes(st)
        bad = self.path("t-cut.safetensors")
        write_bytes(bad, data[: len(data) - 1000])
        self.expect_error(bad, "truncated")

    def test_missing_file(self):
        self.expect_error(self.path("nope.pth"), "No such file")


class BatchInvariance(Workdir):
    """An image's prediction does not depend on its batch neighbours, on the
    batch size or on the number of threads (resumed, sharded and re-run
    analyses store the same bytes). OpenBLAS's Haswell kernels round a row
    differently depending on its place in a product, so they are forced here
    whatever the processor picks by itself."""

    def test_same_logits_whatever_the_batch(self):
        model = self.path("m.safetensors")
        run_cli("model", "new", model, "--size", "tiny", "--depth", "2", "--image-size", "64",
                "--patch", "16", "--crop", "none", "--subjects", "3", "--seed", "3")
        rng = np.random.default_rng(7)
        images = []
        for i in range(6):
            img = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
            name = self.path(f"im{i}.png")
            from PIL import Image
            Image.fromarray(img).save(name)
            images.append(name)
        results = {}
        for threads in ("1", "2"):
            for batch in ("1", "4", "8"):
                env = dict(os.environ, OPENBLAS_CORETYPE="Haswell", FACET_THREADS=threads)
                p = subprocess.run([CLI, "predict", "--model", model, "--crop", "none", "--json",
                                    "--features", "--batch", batch, *images],
                                   capture_output=True, text=True, env=env)
                self.assertEqual(p.returncode, 0, p.stderr)
                results[(threads, batch)] = p.stdout
        first = results[("1", "1")]
        self.assertEqual(len(first.splitlines()), len(images))
        for key, out in results.items():
            self.assertEqual(out, first, f"threads {key[0]}, batch {key[1]} differ from one image at a time")


if __name__ == "__main__":
    unittest.main(verbosity=2)
