"""``layca_torch.Layca`` on a Hugging Face GPT-2: the default selection leaves the tied embedding / output table,
the biases and the LayerNorms out, so that only changing the optimizer of an AdamW script trains; and the
``Trainer``'s ``optimizer_cls_and_kwargs`` route, whose param groups carry ``weight_decay`` (0.0 included)."""

import warnings

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


def progressions(count=64, length=16, seed=0):
    """Deterministic synthetic text: each sequence counts by a step of 1 to 3 from a random start, modulo the
    vocabulary, so the next token follows from the context (the step is read in context)."""
    generator = torch.Generator().manual_seed(seed)
    steps = torch.randint(1, 4, (count, 1), generator=generator)
    starts = torch.randint(0, VOCAB, (count, 1), generator=generator)
    return (steps * torch.arange(length) + starts) % VOCAB


def sequences(count=32, length=16, seed=0):
    return [{"input_ids": x, "labels": x} for x in progressions(count, length, seed)]


def final_loss(make_optimizer, steps=100, batch=8):
    model, data = tiny_gpt2(), progressions()
    optimizer = make_optimizer(model)
    for step in range(steps):
        x = data[(step * batch) % len(data) :][:batch]
        loss = model(input_ids=x, labels=x).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def test_only_the_optimizer_changed_from_an_adamw_script_trains_as_well():
    """AdamW at 1e-3, the rate the docs compare with (docs/selection.md, which also shows a tuned AdamW doing
    better); Layca with every default. Before the default selection left the tied table out, Layca kept it at its
    initial norm and the loss barely fell."""
    adamw = final_loss(lambda model: torch.optim.AdamW(model.parameters(), lr=1e-3))
    layca = final_loss(lambda model: layca_torch.Layca(model.named_parameters(), base="adam"))
    assert layca <= 1.1 * adamw, (layca, adamw)


def test_describe_names_the_tied_table_the_layer_norms_and_the_conv1d_layers():
    table = layca_torch.describe(tiny_gpt2())
    assert "transformer.wte.weight              (64, 32)   other   the table of an nn.Embedding" in table
    assert "transformer.h.0.attn.c_attn.weight  (32, 96)   layer   the weight of a Conv1D" in table
    assert table.endswith("8 layer, 20 other, 0 frozen")
    model = tiny_gpt2()
    optimizer = layca_torch.Layca(model)
    layers = {n for g in optimizer.param_groups for n, f in zip(g["param_names"], g["is_layer"]) if f}
    assert layers == {n for n, p in model.named_parameters() if p.ndim == 2 and "wte" not in n and "wpe" not in n}


def train_by_the_class_route(tmp_path, kwargs):
    """Three steps of the ``Trainer`` building Layca from ``optimizer_cls_and_kwargs``; the trainer and Layca's
    warnings about parameters judged by shape alone."""
    args = transformers.TrainingArguments(
        str(tmp_path), max_steps=3, per_device_train_batch_size=8, weight_decay=0.01, report_to="none",
        save_strategy="no", use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    model = tiny_gpt2()
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=sequences(),
        optimizer_cls_and_kwargs=(layca_torch.Layca, {"base": "adam", **kwargs(model)}),
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = trainer.train()
    assert torch.isfinite(torch.tensor(result.training_loss))
    return trainer, [w for w in caught if "judged them by shape alone" in str(w.message)]


def test_the_trainers_optimizer_cls_and_kwargs_route_trains_with_its_weight_decay_groups(tmp_path):
    """The ``Trainer`` passes plain parameters: without ``layers=model`` GPT-2's token and position tables are turned
    as layers (the shape rule), which Layca says once."""
    trainer, said = train_by_the_class_route(tmp_path, lambda model: {})
    assert sorted(g["weight_decay"] for g in trainer.optimizer.param_groups) == [0.0, 0.01]
    assert len(said) == 1 and "pass layers=model" in str(said[0].message)
    tables = {id(trainer.model.transformer.wte.weight), id(trainer.model.transformer.wpe.weight)}
    assert tables <= {id(p) for p in trainer.optimizer.optimizer.layer_multipliers()}


def test_the_class_route_with_layers_model_leaves_the_tables_out_and_says_nothing(tmp_path):
    trainer, said = train_by_the_class_route(tmp_path, lambda model: {"layers": model})
    assert not said
    assert {g["weight_decay"] for g in trainer.optimizer.param_groups} == {0.0, 0.01}
    layers = {id(p) for p in trainer.optimizer.optimizer.layer_multipliers()}
    assert len(layers) == 8 and id(trainer.model.transformer.wte.weight) not in layers
