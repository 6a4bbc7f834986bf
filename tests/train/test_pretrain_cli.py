#!/usr/bin/python3
"""facet-cli pretrain on a real (small, synthetic) project, then finetune.

- a release-layout MAE .pth (written by torch) is pre-trained further on the
  project's faces; --json gives one object per epoch and the loss goes down;
- Ctrl+C (SIGINT) after the first epoch leaves a checkpoint, and --resume
  ends with the same weights as an uninterrupted run;
- the result is a "pre-trained" model of the project, which analysis refuses (by id and as the default); finetune --base ID
  keeps its encoder (heads mode: bit for bit) under a fresh head for the
  project's AUs, and a release .pth works as --base directly;
- --show writes original / masked / reconstruction side by side;
- bad settings and damaged checkpoints are refused with one line.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "parity"))
import fmae_reference as ref  # noqa: E402
from test_finetune_cli import cli, synthetic_project, weights, CLI  # noqa: E402
import test_mae_parity as mae  # noqa: E402


def release_checkpoint(path):
    """A tiny MAE in the release's layout (ViT 32 wide, 2 blocks; decoder 32 wide, 1 block),
    initialised as the release does (xavier-uniform linear weights)."""
    torch.manual_seed(0)
    model = mae.MaskedAutoencoderViT(32, 8, 32, 2, 2, 32, 1, 1)
    for name, p in model.named_parameters():
        if p.requires_grad and p.ndim >= 2:
            torch.nn.init.xavier_uniform_(p.view(p.shape[0], -1))
        if name in ("cls_token", "mask_token"):
            torch.nn.init.normal_(p, std=0.02)
    torch.save({"model": model.state_dict(), "epoch": 0, "args": mae.release_args()}, path)


def safetensors_header(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n))


class Pretrain(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="facet-pretrain-")
        cls.project = os.path.join(cls.dir, "p.facet")
        synthetic_project(cls.project, "S", 3, 0, 100, seconds=2, fps=10, size=64, crop="none")
        cls.mae = os.path.join(cls.dir, "mae.pth")
        release_checkpoint(cls.mae)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def copy_project(self, name):
        path = os.path.join(self.dir, name)
        shutil.copy(self.project, path)
        return path

    def args(self, project, *extra, epochs=3):
        return ["pretrain", project, "--base", self.mae, "--heads", 2, "--epochs", epochs, "--batch", 8,
                "--blr", "0.03", "--seed", 5, "--json", "--quiet", *extra]

    def model_file(self, project, model_id):
        models = json.loads(cli("models", project, "--json").stdout)
        row = next(m for m in models if m["id"] == model_id)
        return os.path.join(os.path.dirname(project), row["file"]), row

    def test_pretrain_then_finetune(self):
        project = self.copy_project("chain.facet")
        out = cli(*self.args(project)).stdout.strip().splitlines()
        epochs = [json.loads(line) for line in out[:-1]]
        self.assertEqual([e["epoch"] for e in epochs], [1, 2, 3])
        self.assertLess(epochs[-1]["loss"], epochs[0]["loss"] * 0.95, epochs)
        done = json.loads(out[-1])
        path, row = self.model_file(project, done["model"])
        self.assertEqual(row["kind"], "pre-trained")
        self.assertFalse(os.path.exists(project + ".pretrain.ckpt"))
        pre = weights(path)
        self.assertIn("decoder_pred.weight", pre)
        self.assertNotIn("head.weight", pre)

        # Without AU outputs it is no model to analyse with, by id or by default.
        r = cli("analyze", project, "--model", done["model"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("fine-tune it first", r.stderr)
        r = cli("analyze", project, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no model yet", r.stderr)

        # Heads-mode fine-tuning keeps the encoder exactly and adds the project's AUs.
        res = cli("finetune", project, "--base", done["model"], "--mode", "heads", "--epochs", 1,
                  "--batch", 8, "--seed", 1, "--quiet")
        line = next(l for l in res.stdout.splitlines() if l.startswith("model "))
        new_id = int(line.split()[1])
        tuned_path, tuned_row = self.model_file(project, new_id)
        self.assertEqual(tuned_row["parent"], done["model"])
        self.assertEqual(tuned_row["kind"], "fine-tuned")
        tuned = weights(tuned_path)
        blocks = [k for k in pre if k.startswith("blocks.") or k.startswith("patch_embed")]
        self.assertTrue(blocks)
        for k in blocks:
            self.assertEqual(tuned[k], pre[k], k)
        self.assertIn("head.weight", tuned)
        self.assertIn("fc_norm.weight", tuned)
        self.assertFalse(any(k.startswith("decoder_") for k in tuned))

        # The release checkpoint itself is a fine-tuning base too.
        res = cli("finetune", project, "--base", self.mae, "--mode", "heads", "--epochs", 1,
                  "--batch", 8, "--quiet")
        self.assertIn("model", res.stdout)

        # What it learned, side by side.
        png = os.path.join(self.dir, "show.png")
        res = cli("pretrain", project, "--show", "--model", done["model"], "1:3", "2:7", "-o", png)
        from PIL import Image
        with Image.open(png) as im:
            self.assertEqual(im.size, (3 * 32, 2 * 32))
            left = im.crop((0, 0, 32, 64))
            self.assertGreater(len(set(left.getdata())), 20)  # a face, not a blank

    def test_interrupt_and_resume(self):
        straight = self.copy_project("straight.facet")
        # Long enough (about a second) for the signal to land mid-run.
        ref_out = cli(*self.args(straight, epochs=40)).stdout.strip().splitlines()
        ref_path, _ = self.model_file(straight, json.loads(ref_out[-1])["model"])

        stopped = self.copy_project("stopped.facet")
        p = subprocess.Popen([CLI, *map(str, self.args(stopped, epochs=40))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = p.stdout.readline()
        self.assertEqual(json.loads(first)["epoch"], 1)
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate(timeout=60)
        if p.returncode == 0:
            self.skipTest("the run finished before the signal arrived")
        self.assertEqual(p.returncode, 1, err)
        self.assertIn("--resume", err)
        self.assertTrue(os.path.exists(stopped + ".pretrain.ckpt"))
        out = cli(*self.args(stopped, "--resume", epochs=40)).stdout.strip().splitlines()
        epochs = [json.loads(line) for line in out[:-1]]
        self.assertGreater(epochs[0]["epoch"], 1)
        self.assertEqual(epochs[-1]["epoch"], 40)
        path, _ = self.model_file(stopped, json.loads(out[-1])["model"])
        a, b = weights(ref_path), weights(path)
        self.assertEqual(set(a), set(b))
        for k in a:
            self.assertEqual(a[k], b[k], f"{k} differs after resuming")
        ref_losses = [json.loads(line)["loss"] for line in ref_out[:-1]]
        self.assertAlmostEqual(epochs[-1]["loss"], ref_losses[-1], places=12)

    def test_from_scratch(self):
        # ViT-Ti/16 at 224 with the release's decoder, from scratch: one step on 3 faces.
        project = self.copy_project("scratch.facet")
        out = cli("pretrain", project, "--size", "tiny", "--stride", 20, "--epochs", 1, "--batch", 4,
                  "--json", "--quiet", "--name", "ti").stdout.strip().splitlines()
        self.assertEqual(json.loads(out[0])["epoch"], 1)
        path, row = self.model_file(project, json.loads(out[-1])["model"])
        self.assertEqual(row["name"], "ti")
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        config = json.loads(header["__metadata__"]["facet.config"])
        self.assertEqual((config["dim"], config["depth"], config["heads"]), (192, 12, 3))
        self.assertEqual((config["decoder_dim"], config["decoder_depth"], config["decoder_heads"]),
                         (512, 8, 16))
        self.assertEqual(config["image_size"], 224)

    def test_light_decoder(self):
        # A fresh decoder of another shape (the MAE paper's light decoders): it is stored in the
        # model's description, so that pre-training continues it from the model's id and
        # fine-tuning takes the encoder; it cannot be reshaped once it exists.
        project = self.copy_project("light.facet")
        out = cli("pretrain", project, "--size", "tiny", "--decoder-dim", 64, "--decoder-depth", 1,
                  "--stride", 20, "--epochs", 1, "--batch", 4, "--json", "--quiet",
                  "--name", "light").stdout.strip().splitlines()
        first = json.loads(out[-1])["model"]
        path, _ = self.model_file(project, first)
        header = safetensors_header(path)
        self.assertEqual(header["decoder_embed.weight"]["shape"], [64, 192])
        self.assertFalse(any(k.startswith("decoder_blocks.1.") for k in header))
        config = json.loads(header["__metadata__"]["facet.config"])
        self.assertEqual((config["decoder_dim"], config["decoder_depth"], config["decoder_heads"]),
                         (64, 1, 2))
        out = cli("pretrain", project, "--base", first, "--stride", 20, "--epochs", 1, "--batch", 4,
                  "--warmup", 0, "--json", "--quiet").stdout.strip().splitlines()
        path2, _ = self.model_file(project, json.loads(out[-1])["model"])
        self.assertEqual(safetensors_header(path2)["decoder_blocks.0.attn.qkv.weight"]["shape"],
                         [192, 64])
        before, after = weights(path)["decoder_pred.weight"], weights(path2)["decoder_pred.weight"]
        self.assertTrue(before != after, "the decoder did not train on")
        r = cli("pretrain", project, "--base", first, "--decoder-depth", 2, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already has an MAE decoder (width 64, depth 1)", r.stderr)

    def test_refusals(self):
        project = self.copy_project("refuse.facet")
        cases = [
            (["pretrain", project, "--size", "huge"], "--size"),
            (["pretrain", project, "--size", "tiny", "--base", self.mae], "not both"),
            (["pretrain", project, "--mask-ratio", "1.5"], "--mask-ratio"),
            (["pretrain", project, "--base", self.mae, "--resume"], "no checkpoint"),
            (["pretrain", project, "--show", "1:3"], "--model"),
            (["pretrain", project, "--base", self.mae, "--decoder-dim", 16],
             "already has an MAE decoder"),
            (["pretrain", project, "--size", "tiny", "--decoder-dim", 30, "--decoder-heads", 4],
             "multiple of the head count"),
            (["pretrain", project, "--size", "tiny", "--decoder-depth", -1], "--decoder-depth"),
        ]
        for args, text in cases:
            r = cli(*args, check=False)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn(text, r.stderr, args)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        # A checkpoint of another run (other settings) is refused, not half used.
        with open(project + ".pretrain.ckpt", "wb") as f:
            f.write(b"not a checkpoint")
        r = cli(*self.args(project, "--resume"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(".pretrain.ckpt", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
