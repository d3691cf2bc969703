"""One-shot reply slots: the first of reply and give-up wins, and neither is ever lost."""

from __future__ import annotations

import inspect
import sys
import threading

from papyra._envelope import DecisionSlot, ReplySlot
from tests.support.waiting import wait_until


def test_the_first_reply_wins_and_later_ones_are_no_ops() -> None:
    slot = ReplySlot()
    assert not slot.done
    assert slot.set("first") is True
    assert slot.set("second", RuntimeError("late")) is False
    assert slot.done
    assert slot.wait(0) is True
    assert (slot.value, slot.error) == ("first", None)


def test_a_reply_after_the_asker_gave_up_is_dropped() -> None:
    slot = ReplySlot()
    assert slot.wait(0.001) is False  # abandoned
    assert slot.done
    assert slot.set("late") is False
    assert slot.value is None


def test_a_reply_claimed_at_the_deadline_is_returned_not_lost() -> None:
    slot = ReplySlot()
    assert slot._claim.acquire(False)  # a replier claimed the slot and is about to deliver
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(slot.wait(0.001)), name="papyra-test-asker")
    waiter.start()
    # the wait times out, cannot abandon the claimed slot, and waits for the delivery instead
    lines, first = inspect.getsourcelines(ReplySlot.wait)
    second = first + next(i for i, line in enumerate(lines) if line.strip() == "self._waiter.acquire()")

    def waiting_for_delivery() -> bool:
        frame = sys._current_frames().get(waiter.ident or 0)
        return frame is not None and frame.f_code is ReplySlot.wait.__code__ and frame.f_lineno == second

    wait_until(waiting_for_delivery, what="the asker to wait for the claimed reply")
    slot.value = "just in time"
    slot._waiter.release()
    waiter.join(30)
    assert result == [True]
    assert slot.value == "just in time"


def test_a_cancelled_decision_ignores_the_parents_late_decision_and_wakes_the_child_once() -> None:
    woken: list[int] = []
    slot = DecisionSlot(lambda: woken.append(1))
    assert slot.set(None) is True  # the wait-for graph cancelled it: the child's own policy applies
    assert slot.set("restart") is False
    assert slot.wait(None) is True and slot.value is None
    assert woken == [1]
