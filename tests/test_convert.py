"""Import of the authors' PyTorch checkpoints and export back (hrm_jax.interop.convert)."""

import json
import pathlib
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

import hrm_jax
from hrm_jax import errors, model
from hrm_jax.interop import torch_names
from hrm_jax.tools import convert as convert_cli
from hrm_jax.tools import evaluate as evaluate_cli
from hrm_jax.training import model_dir

torch = pytest.importorskip("torch")

GOLDEN = pathlib.Path(__file__).parent / "golden"
ROOT = pathlib.Path(__file__).parents[1]

# Tiny reference architecture: P = ceil(48/32) = 2 prefix tokens (a padded puzzle row).
ARCH = {
  "name": "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1",
  "loss": {"name": "losses@ACTLossHead", "loss_type": "stablemax_cross_entropy"},
  "H_cycles": 1,
  "L_cycles": 2,
  "H_layers": 1,
  "L_layers": 2,
  "hidden_size": 32,
  "num_heads": 2,
  "expansion": 4,
  "puzzle_emb_ndim": 48,
  "pos_encodings": "rope",
  "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0,
  "halt_max_steps": 3,
  "halt_exploration_prob": 0.1,
  "forward_dtype": "float32",
}
YAML = {
  "arch": ARCH,
  "data_path": "data/sudoku-extreme-1k-aug-1000",
  "global_batch_size": 8,
  "epochs": 10,
  "eval_interval": None,
  "lr": 1e-4,
  "lr_min_ratio": 1.0,
  "lr_warmup_steps": 0,
  "weight_decay": 1.0,
  "beta1": 0.9,
  "beta2": 0.95,
  "puzzle_emb_lr": 1e-4,
  "puzzle_emb_weight_decay": 1.0,
  "seed": 0,
  "checkpoint_every_eval": False,
  "eval_save_outputs": [],
  "project_name": None,
  "run_name": None,
  "checkpoint_path": None,
}


def reference_state_dict(num_ids=5, vocab=11, seed=0):
  """A state_dict spelled out with the authors' names and [out, in] shapes (not via torch_names)."""
  g = torch.Generator().manual_seed(seed)
  D, mlp = 32, 256  # round(4 * 32 * 2/3) = 85 -> rounded up to 256
  rnd = lambda *shape: torch.randn(*shape, generator=g) * 0.2
  sd = {
    "inner.H_init": torch.randn(D, generator=g),
    "inner.L_init": torch.randn(D, generator=g),
    "inner.embed_tokens.embedding_weight": rnd(vocab, D),
    "inner.lm_head.weight": rnd(vocab, D),
    "inner.q_head.weight": rnd(2, D),
    "inner.q_head.bias": torch.tensor([0.5, -0.5]),
    "inner.puzzle_emb.weights": rnd(num_ids, 48),
  }
  for level, n in (("H", 1), ("L", 2)):
    for i in range(n):
      pre = f"inner.{level}_level.layers.{i}."
      sd[pre + "self_attn.qkv_proj.weight"] = rnd(3 * D, D)
      sd[pre + "self_attn.o_proj.weight"] = rnd(D, D)
      sd[pre + "mlp.gate_up_proj.weight"] = rnd(2 * mlp, D)
      sd[pre + "mlp.down_proj.weight"] = rnd(D, mlp)
  return {"_orig_mod.model." + k: v for k, v in sd.items()}


def write_reference(directory, sd, doc=YAML, name="step_0"):
  directory.mkdir(parents=True, exist_ok=True)
  torch.save(sd, directory / name)
  (directory / "all_config.yaml").write_text(yaml.safe_dump(doc))
  return directory / name


def test_synthetic_round_trip(tmp_path):
  sd = reference_state_dict()
  ckpt = write_reference(tmp_path / "ref", sd)
  assert convert_cli.main([str(ckpt), str(tmp_path / "model")]) == 0
  params, config, meta = model_dir.load_model(tmp_path / "model")
  assert config == hrm_jax.HRMConfig(
    vocab_size=11,
    seq_len=81,
    num_puzzle_identifiers=5,
    puzzle_emb_ndim=48,
    hidden_size=32,
    num_heads=2,
    expansion=4.0,
    h_layers=1,
    l_layers=2,
    h_cycles=1,
    l_cycles=2,
    halt_max_steps=3,
    halt_exploration_prob=0.1,
  )
  assert meta["task"] == "sudoku" and meta["seq_len_source"] == "task sudoku"
  # the imported tensors are the file's, at the mapped places
  np.testing.assert_array_equal(
    params["net"]["L"]["layers_1"]["mlp"]["down"]["kernel"],
    sd["_orig_mod.model.inner.L_level.layers.1.mlp.down_proj.weight"].T,
  )
  np.testing.assert_array_equal(
    params["puzzle_emb"], sd["_orig_mod.model.inner.puzzle_emb.weights"]
  )
  # it runs
  batch = {
    "inputs": jnp.ones((2, 81), jnp.int32),
    "labels": jnp.full((2, 81), -100, jnp.int32),
    "puzzle_identifiers": jnp.array([1, 4], jnp.int32),
  }
  carry, out = hrm_jax.apply(params, hrm_jax.initial_carry(batch, config), batch, config=config)
  assert out["logits"].shape == (2, 81, 11) and np.isfinite(out["logits"]).all()
  # and converts back unchanged: same keys in the same order, bit-identical values
  assert (
    convert_cli.main(["--to-torch", str(tmp_path / "model"), str(tmp_path / "back" / "step_0")])
    == 0
  )
  back = torch.load(tmp_path / "back" / "step_0", map_location="cpu", weights_only=True)
  assert list(back) == list(sd)
  for k in sd:
    assert back[k].dtype == sd[k].dtype and torch.equal(back[k], sd[k]), k
  assert yaml.safe_load((tmp_path / "back" / "all_config.yaml").read_text()) == YAML
  # bare keys
  assert (
    convert_cli.main(
      ["--to-torch", "--bare-keys", str(tmp_path / "model"), str(tmp_path / "bare" / "ckpt.pt")]
    )
    == 0
  )
  bare = torch.load(tmp_path / "bare" / "ckpt.pt", weights_only=True)
  assert list(bare) == [torch_names.strip_prefix(k) for k in sd]


def test_bfloat16_and_plain_prefix_round_trip(tmp_path):
  sd = {
    k.replace("_orig_mod.", ""): v.to(torch.bfloat16) for k, v in reference_state_dict().items()
  }
  ckpt = write_reference(tmp_path / "ref", sd)
  assert convert_cli.main([str(ckpt), str(tmp_path / "model"), "--seq-len", "81"]) == 0
  params, config, _ = model_dir.load_model(tmp_path / "model")
  assert config.param_dtype == "bfloat16" and params["puzzle_emb"].dtype == jnp.bfloat16
  assert convert_cli.main(["--to-torch", str(tmp_path / "model"), str(tmp_path / "back.pt")]) == 0
  back = torch.load(tmp_path / "back.pt", weights_only=True)
  for k, v in sd.items():
    assert torch.equal(back["_orig_mod." + k], v), k


def _golden_eval_logits(directory):
  params, config, _ = model_dir.load_model(directory)
  gold = np.load(GOLDEN / "hrm_golden.npz")
  batch = {k: jnp.asarray(gold[k]) for k in ("inputs", "labels", "puzzle_identifiers")}
  carry = hrm_jax.initial_carry(batch, config)
  for i in range(config.halt_max_steps):
    carry, out = hrm_jax.apply(params, carry, batch, config=config)
    np.testing.assert_allclose(out["logits"], gold[f"eval/step{i}/logits"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(
      out["q_halt_logits"], gold[f"eval/step{i}/q_halt_logits"], atol=1e-4, rtol=1e-4
    )
  return config


@pytest.mark.parametrize(
  "name,flags", [("step_0", ["--seq-len", "81"]), ("step_0_plain.pt", ["--task", "sudoku"])]
)
def test_golden_checkpoint_reproduces_reference(tmp_path, name, flags):
  assert convert_cli.main([str(GOLDEN / "ckpt" / name), str(tmp_path / "m"), *flags]) == 0
  config = _golden_eval_logits(tmp_path / "m")
  assert (config.hidden_size, config.num_puzzle_identifiers, config.halt_max_steps) == (64, 10, 4)


def test_golden_cli_subprocess_and_export(tmp_path):
  out = subprocess.run(
    [
      sys.executable,
      "-m",
      "hrm_jax.tools.convert",
      str(GOLDEN / "ckpt" / "step_0"),
      str(tmp_path / "m"),
      "--seq-len",
      "81",
    ],
    capture_output=True,
    text=True,
    cwd=ROOT,
  )
  assert out.returncode == 0, out.stderr
  assert "seq_len=81 (from --seq-len)" in out.stdout
  assert convert_cli.main(["--to-torch", str(tmp_path / "m"), str(tmp_path / "t" / "step_0")]) == 0
  want = torch.load(GOLDEN / "ckpt" / "step_0", weights_only=True)
  got = torch.load(tmp_path / "t" / "step_0", weights_only=True)
  assert list(got) == list(want) and all(torch.equal(got[k], want[k]) for k in want)
  assert yaml.safe_load((tmp_path / "t" / "all_config.yaml").read_text()) == yaml.safe_load(
    (GOLDEN / "ckpt" / "all_config.yaml").read_text()
  )


def test_seq_len_from_dataset_json(tmp_path):
  ckpt = write_reference(
    tmp_path / "ref", reference_state_dict(), {**YAML, "data_path": str(tmp_path / "mydata")}
  )
  (tmp_path / "mydata" / "test").mkdir(parents=True)
  meta = {
    "pad_id": 0,
    "ignore_label_id": 0,
    "blank_identifier_id": 0,
    "vocab_size": 11,
    "seq_len": 77,
    "num_puzzle_identifiers": 5,
    "total_groups": 1,
    "mean_puzzle_examples": 1.0,
    "sets": ["all"],
  }
  (tmp_path / "mydata" / "test" / "dataset.json").write_text(json.dumps(meta))
  assert convert_cli.main([str(ckpt), str(tmp_path / "m")]) == 0
  config, info = model_dir.read_config(tmp_path / "m")
  assert config.seq_len == 77 and info["data_path"] == str(tmp_path / "mydata")
  meta["num_puzzle_identifiers"] = 9
  (tmp_path / "mydata" / "test" / "dataset.json").write_text(json.dumps(meta))
  assert (
    errors.guard(
      convert_cli.main, [str(ckpt), str(tmp_path / "m2"), "--data", str(tmp_path / "mydata")]
    )
    == 2
  )


def _error(capsys, argv):
  """Run the CLI as `python -m hrm_jax.tools.convert` does; the error must be one line."""
  assert errors.guard(convert_cli.main, argv) == 2
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
  return err


def test_bad_checkpoints_name_the_problem(tmp_path, capsys):
  good = reference_state_dict()
  cases = {
    "missing": (
      {k: v for k, v in good.items() if "L_level.layers.1.mlp.down" not in k},
      "inner.L_level.layers.1.mlp.down_proj.weight",
    ),
    "unexpected": (
      {**good, "_orig_mod.model.inner.extra.weight": torch.zeros(2)},
      "inner.extra.weight",
    ),
    "shape": (
      {
        **good,
        "_orig_mod.model.inner.H_level.layers.0.self_attn.o_proj.weight": torch.zeros(32, 31),
      },
      "inner.H_level.layers.0.self_attn.o_proj.weight: shape",
    ),
  }
  for name, (sd, needle) in cases.items():
    ckpt = write_reference(tmp_path / name, sd)
    err = _error(capsys, [str(ckpt), str(tmp_path / f"out_{name}")])
    assert needle in err, (name, err)
    assert not (tmp_path / f"out_{name}").exists()
  ckpt = write_reference(tmp_path / "ok", good)
  assert "cannot tell the sequence length" in _error(
    capsys,
    [
      str(ckpt),
      str(tmp_path / "o1"),
      "--config-yaml",
      str(write_yaml(tmp_path / "y1.yaml", {**YAML, "data_path": "data/mystery"})),
    ],
  )
  assert "vocab_size 6" in _error(capsys, [str(ckpt), str(tmp_path / "o2"), "--task", "maze"])
  bad_arch = {**YAML, "arch": {**ARCH, "name": "hrm.hrm_act_v2@Other"}}
  assert "only these can be converted" in _error(
    capsys,
    [
      str(ckpt),
      str(tmp_path / "o3"),
      "--config-yaml",
      str(write_yaml(tmp_path / "y3.yaml", bad_arch)),
    ],
  )
  assert "all_config.yaml" in _error(
    capsys, [str(ckpt), str(tmp_path / "o4"), "--config-yaml", str(tmp_path / "nope.yaml")]
  )
  (tmp_path / "junk").mkdir()
  (tmp_path / "junk" / "step_0").write_bytes(b"not a checkpoint")
  shutil.copy(tmp_path / "ok" / "all_config.yaml", tmp_path / "junk")
  assert "not a readable PyTorch checkpoint" in _error(
    capsys, [str(tmp_path / "junk" / "step_0"), str(tmp_path / "o5")]
  )
  assert "no such checkpoint file" in _error(
    capsys, [str(tmp_path / "ok" / "missing"), str(tmp_path / "o6")]
  )
  assert convert_cli.main([str(ckpt), str(tmp_path / "o7")]) == 0
  assert "already exists" in _error(capsys, [str(ckpt), str(tmp_path / "o7")])
  assert convert_cli.main([str(ckpt), str(tmp_path / "o7"), "--force"]) == 0
  assert "not an hrm_jax model checkpoint" in _error(
    capsys, ["--to-torch", str(tmp_path / "ok"), str(tmp_path / "x.pt")]
  )


def test_missing_checkpoint_file_is_named_before_its_yaml(tmp_path, capsys):
  (tmp_path / "empty").mkdir()
  err = _error(capsys, [str(tmp_path / "empty" / "step_9"), str(tmp_path / "m")])
  assert "step_9: no such checkpoint file" in err and "all_config.yaml" not in err
  assert "name the checkpoint file inside it" in _error(
    capsys, [str(tmp_path / "empty"), str(tmp_path / "m")]
  )
  assert not (tmp_path / "m").exists()


def test_export_never_overwrites_without_force(tmp_path, capsys):
  ckpt = write_reference(tmp_path / "ref", reference_state_dict())
  assert convert_cli.main([str(ckpt), str(tmp_path / "model")]) == 0
  out = tmp_path / "out"
  out.mkdir()
  mine = b"# my own run's config\narch: {hidden_size: 512}\n"
  (out / "all_config.yaml").write_bytes(mine)
  err = _error(capsys, ["--to-torch", str(tmp_path / "model"), str(out / "step_0")])
  assert f"{out / 'all_config.yaml'} already exists; pass --force" in err
  assert (out / "all_config.yaml").read_bytes() == mine and not (out / "step_0").exists()
  # an existing state_dict file (with or without the yaml) is refused too
  (out / "all_config.yaml").unlink()
  (out / "step_0").write_bytes(b"old weights")
  err = _error(capsys, ["--to-torch", str(tmp_path / "model"), str(out / "step_0")])
  assert "step_0 already exists; pass --force" in err
  assert (out / "step_0").read_bytes() == b"old weights" and not (out / "all_config.yaml").exists()
  assert "is a directory" in _error(capsys, ["--to-torch", str(tmp_path / "model"), str(out)])
  (out / "all_config.yaml").write_bytes(mine)
  assert (
    convert_cli.main(["--to-torch", "--force", str(tmp_path / "model"), str(out / "step_0")]) == 0
  )
  assert yaml.safe_load((out / "all_config.yaml").read_text()) == YAML
  assert list(torch.load(out / "step_0", weights_only=True)) == list(reference_state_dict())
  (tmp_path / "bad.yaml").write_text("arch: [unclosed\n")
  assert "bad.yaml: not a readable YAML file" in _error(
    capsys, [str(ckpt), str(tmp_path / "m2"), "--config-yaml", str(tmp_path / "bad.yaml")]
  )


def test_cli_errors_are_one_line_without_traceback(tmp_path):
  run = lambda *argv: subprocess.run(
    [sys.executable, "-m", "hrm_jax.tools.convert", *map(str, argv)],
    capture_output=True,
    text=True,
    cwd=ROOT,
  )
  got = run(tmp_path / "nope.pt", tmp_path / "m")
  assert got.returncode == 2
  assert got.stderr == f"error: {tmp_path / 'nope.pt'}: no such checkpoint file\n"
  got = run("--to-torch", tmp_path / "nodir", tmp_path / "x.pt")
  assert got.returncode == 2 and got.stderr.count("\n") == 1 and "Traceback" not in got.stderr
  assert "no such checkpoint directory" in got.stderr
  got = run("--to-torch", tmp_path / "nodir", tmp_path / "x.pt", "--verbose")
  assert "Traceback" in got.stderr


def test_export_to_an_unwritable_place_is_one_line(tmp_path, capsys):
  ckpt = write_reference(tmp_path / "ref", reference_state_dict())
  assert convert_cli.main([str(ckpt), str(tmp_path / "model")]) == 0
  (tmp_path / "file").write_text("not a folder")
  err = _error(capsys, ["--to-torch", str(tmp_path / "model"), str(tmp_path / "file" / "x.pt")])
  assert f"cannot write {tmp_path / 'file'}" in err


def write_yaml(path, doc):
  path.write_text(yaml.safe_dump(doc))
  return path


def test_without_torch_says_how_to_install(tmp_path, capsys, monkeypatch):
  ckpt = write_reference(tmp_path / "ref", reference_state_dict())
  monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
  err = _error(capsys, [str(ckpt), str(tmp_path / "m")])
  assert "pip install 'hrm_jax[torch]'" in err and "torch==2.13.0" in err


def test_model_dir_round_trip_and_checkpoint_manager_layout(tmp_path):
  config = hrm_jax.HRMConfig(
    vocab_size=6,
    seq_len=16,
    num_puzzle_identifiers=3,
    puzzle_emb_ndim=32,
    hidden_size=32,
    num_heads=2,
    h_layers=1,
    l_layers=1,
    h_cycles=1,
    l_cycles=1,
    halt_max_steps=2,
  )
  params = model.init(jax.random.key(1), config)
  model_dir.save_model(tmp_path / "m", params, config, {"task": "maze"})
  got, cfg, meta = model_dir.load_model(tmp_path / "m")
  assert cfg == config and meta == {"task": "maze"}
  jax.tree.map(np.testing.assert_array_equal, got, params)
  with pytest.raises(FileExistsError):
    model_dir.save_model(tmp_path / "m", params, config)
  # numbered step directories written with StandardSave (as a CheckpointManager does)
  import orbax.checkpoint as ocp

  ck = ocp.Checkpointer(ocp.CompositeCheckpointHandler())
  for step in (3, 12):
    ck.save(
      tmp_path / "run" / str(step),
      args=ocp.args.Composite(
        params=ocp.args.StandardSave(jax.tree.map(lambda x: x + step, params)),
        config=ocp.args.JsonSave(
          {
            "format": model_dir.FORMAT,
            "config": model_dir.config_to_dict(config),
            "meta": {"step": step},
          }
        ),
      ),
    )
  got, _, meta = model_dir.load_model(tmp_path / "run")
  assert meta == {"step": 12}
  np.testing.assert_array_equal(got["z0"]["H"], params["z0"]["H"] + 12)
  wrong = config.replace(hidden_size=64, num_heads=1)
  model_dir.save_model(tmp_path / "w", params, wrong, force=True)
  with pytest.raises(model_dir.ModelDirError, match="shape"):
    model_dir.load_model(tmp_path / "w")


@pytest.mark.slow
def test_large_puzzle_table_is_not_copied(tmp_path):
  """1M x 512 float32 table (2 GiB): each direction peaks near one table + a fixed overhead."""
  sys.path.insert(0, str(ROOT / "benchmarks"))
  import convert_memory

  result = convert_memory.main(["--workdir", str(tmp_path)])
  table = result["table_mib"]
  for name in ("import", "export"):
    extra = result[name]["peak_mib"] - result[name]["baseline_mib"]
    # import: the table is read once (memory-mapped); export: orbax restore buffers ~0.5x more
    assert extra < (1.5 if name == "import" else 2.0) * table, (name, result)


def test_converted_model_evaluates(tmp_path, capsys):
  """`python -m hrm_jax.tools.evaluate --checkpoint DIR` reads a converted model (in-process)."""
  pytest.importorskip("hrm_jax.training.evaluate")
  from hrm_jax.data.sudoku import build_sudoku

  data = build_sudoku(
    tmp_path / "sudoku",
    train_size=2,
    test_size=4,
    num_aug=0,
    difficulty="easy",
    workers=1,
    progress=False,
  )
  # one puzzle identifier, as the dataset has (evaluate refuses a dataset that does not fit)
  ckpt = write_reference(tmp_path / "ref", reference_state_dict(num_ids=1))
  assert convert_cli.main([str(ckpt), str(tmp_path / "m"), "--data", str(data)]) == 0
  capsys.readouterr()
  assert evaluate_cli.main(["--checkpoint", str(tmp_path / "m"), "--batch-size", "8"]) == 0
  report = json.loads(capsys.readouterr().out)
  assert report["task"] == "sudoku" and report["examples"] == 4.0 and report["segments"] == 3.0
  assert 0.0 <= report["token_accuracy"] <= 1.0


# ----------------------------------------------------------------------------- TRM release

# Tiny TRM as the TRM release's all_config.yaml writes it: one module of 2 blocks, a puzzle
# row of 32 in a 4-token prefix (P + S = 4 + 81 = 85 positions), no Q-continue.
TRM_ARCH = {
  "name": "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
  "loss": {"name": "losses@ACTLossHead", "loss_type": "stablemax_cross_entropy"},
  "H_cycles": 2,
  "L_cycles": 2,
  "H_layers": 0,
  "L_layers": 2,
  "hidden_size": 32,
  "num_heads": 2,
  "expansion": 4,
  "puzzle_emb_ndim": 32,
  "puzzle_emb_len": 4,
  "pos_encodings": "rope",
  "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0,
  "halt_max_steps": 3,
  "halt_exploration_prob": 0.1,
  "forward_dtype": "float32",
  "mlp_t": False,
  "no_ACT_continue": True,
}
TRM_MLP_ARCH = {**TRM_ARCH, "mlp_t": True, "pos_encodings": "none"}


def trm_yaml(arch):
  """The release's all_config.yaml around `arch`: a list of data_paths, no data_path."""
  doc = {k: v for k, v in YAML.items() if k != "data_path"}
  return {**doc, "arch": arch, "data_paths": ["data/sudoku-extreme-1k-aug-1000"]}


def trm_state_dict(mlp_t, num_ids=5, vocab=11, seed=0):
  """A TRM state_dict with the release's names and [out, in] shapes (not via torch_names)."""
  g = torch.Generator().manual_seed(seed)
  D, mlp, T, mlp_tok = 32, 256, 85, 256  # token SwiGLU: round(4 * 85 * 2/3) = 227 -> 256
  rnd = lambda *shape: torch.randn(*shape, generator=g) * 0.2
  sd = {
    "inner.H_init": torch.randn(D, generator=g),
    "inner.L_init": torch.randn(D, generator=g),
    "inner.embed_tokens.embedding_weight": rnd(vocab, D),
    "inner.lm_head.weight": rnd(vocab, D),
    "inner.q_head.weight": rnd(2, D),
    "inner.q_head.bias": torch.tensor([0.5, -0.5]),
    "inner.puzzle_emb.weights": rnd(num_ids, 32),
  }
  for i in range(2):
    pre = f"inner.L_level.layers.{i}."
    if mlp_t:
      sd[pre + "mlp_t.gate_up_proj.weight"] = rnd(2 * mlp_tok, T)
      sd[pre + "mlp_t.down_proj.weight"] = rnd(T, mlp_tok)
    else:
      sd[pre + "self_attn.qkv_proj.weight"] = rnd(3 * D, D)
      sd[pre + "self_attn.o_proj.weight"] = rnd(D, D)
    sd[pre + "mlp.gate_up_proj.weight"] = rnd(2 * mlp, D)
    sd[pre + "mlp.down_proj.weight"] = rnd(D, mlp)
  return {"_orig_mod.model." + k: v for k, v in sd.items()}


def _export_matches(model, sd, doc, out):
  """Export `model` to `out`: the same keys in the same order, bit-identical, the same yaml."""
  assert convert_cli.main(["--to-torch", str(model), str(out / "step_0")]) == 0
  back = torch.load(out / "step_0", map_location="cpu", weights_only=True)
  assert list(back) == list(sd)
  for k in sd:
    assert back[k].dtype == sd[k].dtype and torch.equal(back[k], sd[k]), k
  assert yaml.safe_load((out / "all_config.yaml").read_text()) == doc


@pytest.mark.parametrize("mlp_t", [False, True], ids=["trm", "trm_mlp"])
def test_trm_synthetic_round_trip(tmp_path, mlp_t):
  sd, doc = trm_state_dict(mlp_t), trm_yaml(TRM_MLP_ARCH if mlp_t else TRM_ARCH)
  ckpt = write_reference(tmp_path / "ref", sd, doc)
  assert convert_cli.main([str(ckpt), str(tmp_path / "model")]) == 0  # seq_len: task sudoku
  params, config, meta = model_dir.load_model(tmp_path / "model")
  assert config == hrm_jax.HRMConfig(
    arch="trm",
    vocab_size=11,
    seq_len=81,
    num_puzzle_identifiers=5,
    puzzle_emb_ndim=32,
    puzzle_emb_len=4,
    hidden_size=32,
    num_heads=2,
    expansion=4.0,
    h_layers=0,
    l_layers=2,
    h_cycles=2,
    l_cycles=2,
    halt_max_steps=3,
    halt_exploration_prob=0.1,
    pos_encodings="none" if mlp_t else "rope",
    mlp_t=mlp_t,
    no_act_continue=True,
  )
  assert meta["task"] == "sudoku" and set(params["net"]) == {
    "embed_tokens",
    "lm_head",
    "q_head",
    "L",
  }
  mixer = "mlp_t.down_proj" if mlp_t else "self_attn.o_proj"
  ours = params["net"]["L"]["layers_1"]["mlp_t" if mlp_t else "attn"]
  np.testing.assert_array_equal(
    ours["down" if mlp_t else "out"]["kernel"],
    sd[f"_orig_mod.model.inner.L_level.layers.1.{mixer}.weight"].T,
  )
  np.testing.assert_array_equal(params["z0"]["L"], sd["_orig_mod.model.inner.L_init"])
  batch = {
    "inputs": jnp.ones((2, 81), jnp.int32),
    "labels": jnp.full((2, 81), -100, jnp.int32),
    "puzzle_identifiers": jnp.array([1, 4], jnp.int32),
  }
  carry = hrm_jax.initial_carry(batch, config)
  carry, out = hrm_jax.apply(params, carry, batch, config=config, train=False)
  assert out["logits"].shape == (2, 81, 11) and np.isfinite(out["logits"]).all()
  _export_matches(tmp_path / "model", sd, doc, tmp_path / "back")


@pytest.mark.parametrize(
  "name,flags", [("ckpt", ["--seq-len", "81"]), ("ckpt_mlp", [])], ids=["trm", "trm_mlp"]
)
def test_trm_golden_checkpoint_reproduces_reference(tmp_path, name, flags):
  """The TRM release's own checkpoints (tests/golden/trm/checkpoints.md): step 0's outputs
  are the reference's; TRM-MLP needs no --seq-len (its token mixer is P + S wide)."""
  src = GOLDEN / "trm" / name
  assert convert_cli.main([str(src / "step_0"), str(tmp_path / "m"), *flags]) == 0
  params, config, meta = model_dir.load_model(tmp_path / "m")
  assert config.arch == "trm" and config.mlp_t == (name == "ckpt_mlp")
  assert meta["seq_len_source"] == ("--seq-len" if flags else "the mlp_t weights")
  gold = np.load(GOLDEN / "trm" / ("trm_mlp_golden.npz" if config.mlp_t else "trm_golden.npz"))
  batch = {k: jnp.asarray(gold[k]) for k in ("inputs", "labels", "puzzle_identifiers")}
  _, out = hrm_jax.apply(params, hrm_jax.initial_carry(batch, config), batch, config=config)
  for k in ("logits", "q_halt_logits"):
    np.testing.assert_allclose(out[k], gold[f"eval/step0/{k}"], atol=1e-4, rtol=1e-4)
  want = torch.load(src / "step_0", weights_only=True)
  _export_matches(
    tmp_path / "m", want, yaml.safe_load((src / "all_config.yaml").read_text()), tmp_path / "t"
  )


def test_bad_trm_checkpoints_name_the_field(tmp_path, capsys):
  sd, mlp_sd = trm_state_dict(False), trm_state_dict(True)
  h_module = {
    "_orig_mod.model.inner.H_level.layers.0.mlp.down_proj.weight": torch.zeros(32, 256),
    **sd,
  }
  cases = {
    "h_layers": (sd, trm_yaml({**TRM_ARCH, "H_layers": 1}), [], "HRMConfig.h_layers must be 0"),
    "h_module": (h_module, trm_yaml(TRM_ARCH), [], "inner.{H,L}_level"),
    "seq_len": (mlp_sd, trm_yaml(TRM_MLP_ARCH), ["--seq-len", "80"], "HRMConfig.seq_len is 80"),
    "hrm_yaml": (sd, YAML, [], "holds the modules of arch 'trm'"),
  }
  for name, (state, doc, flags, needle) in cases.items():
    ckpt = write_reference(tmp_path / name, state, doc)
    err = _error(capsys, [str(ckpt), str(tmp_path / f"out_{name}"), *flags])
    assert needle in err, (name, err)
    assert not (tmp_path / f"out_{name}").exists()
