"""The rule that picks the active model after a fine-tune run, and how it says why it asks."""

from __future__ import annotations

from app.model.finetune_eval import MIN_MIOU_TO_ACTIVATE, Comparison, decide, describe, guard_reason


def test_decide_which_model_becomes_active() -> None:
    assert decide(Comparison(0.4, 0.3, 5), has_previous=True) == "use"
    assert decide(Comparison(0.3, 0.3, 5), has_previous=True) == "ask"  # not better: the user decides
    assert decide(Comparison(0.2, None, 5, "not comparable"), has_previous=True) == "use"
    assert decide(Comparison(None, None, 0), has_previous=True) == "ask"
    # nothing held out: never switched on by itself, even as the first model (the user is asked)
    assert decide(Comparison(None, None, 0), has_previous=False) == "ask"
    assert describe(Comparison(0.4, 0.3, 5)) == (
        "Held-out mIoU on 5 reviewed image(s): new model 40.0%, previous model 30.0%"
    )


def test_too_few_held_out_images_or_a_weak_score_ask_with_the_reason() -> None:
    few = Comparison(0.5, None, 1)
    assert decide(few, has_previous=False) == "ask"
    assert "1 held-out image(s) are too few" in guard_reason(few, has_previous=False)
    assert "about 15 reviewed images" in guard_reason(few, has_previous=False, val_fraction=0.2)
    weak = Comparison(MIN_MIOU_TO_ACTIVATE / 2, None, 10)
    assert decide(weak, has_previous=False) == "ask" and "below 10%" in guard_reason(weak, has_previous=False)
    assert guard_reason(Comparison(0.3, 0.2, 10), has_previous=True) == ""
