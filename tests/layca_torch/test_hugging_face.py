"""``layca_torch.Layca`` inside the Hugging Face ``Trainer``: its ``optimizer_cls_and_kwargs`` route builds param
groups that carry ``weight_decay`` (0.0 included), which Layca takes as torch's optimizers do."""

import pytest
import torch

transformers = pytest.importorskip("transformers", reason="the Hugging Face tests need transformers (extra [hf])")
pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate (extra [hf])")

import layca_torch  # noqa: E402

VOCAB = 64


def tiny_gpt2(seed=0):
    torch.manual_seed(seed)
    config = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=32, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0
    )
    return transformers.GPT2LMHeadModel(config)


def sequences(count=32, length=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [{"input_ids": x, "labels": x} for x in torch.randint(0, VOCAB, (count, length), generator=generator)]


def test_the_trainers_optimizer_cls_and_kwargs_route_trains_with_its_weight_decay_groups(tmp_path):
    args = transformers.TrainingArguments(
        str(tmp_path), max_steps=3, per_device_train_batch_size=8, weight_decay=0.01, report_to="none",
        save_strategy="no", use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    trainer = transformers.Trainer(
        model=tiny_gpt2(), args=args, train_dataset=sequences(),
        optimizer_cls_and_kwargs=(layca_torch.Layca, {"base": "adam"}),
    )  # fmt: skip
    result = trainer.train()
    assert torch.isfinite(torch.tensor(result.training_loss))
    assert sorted(g["weight_decay"] for g in trainer.optimizer.param_groups) == [0.0, 0.01]
