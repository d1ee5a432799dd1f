"""Who may join Gradio's queue: one visitor cannot fill it for the others.

Gradio's own queue cap (`max_size`) counts every waiting event app-wide, so 33 predictions joined
by one client in a fraction of a second gave every other visitor "Queue is full", even for a
checkpoint's info. The app runs the queue without that cap and `install` puts this admission in
front of it instead:

- **predictions** (`concurrency_id="predict"`) and **renders** (`"render"`): at most one waiting or
  running per session, and, when the app is reachable from elsewhere (a Space, a lab server), per
  client address too: new sessions are free to make, addresses are not. At most
  `max_waiting(id)` wait app-wide.
- **everything else** (view updates, checkpoint info, the dataset tab's polls: milliseconds each):
  never refused for what other visitors do; at most `MAX_CHEAP_PER_CLIENT` pending per session and
  per address, which bounds the memory a flood of them can hold.

Counts are read from Gradio's queue itself (waiting events and running jobs), so nothing here can
drift from it or outlive a session. A refusal is a sentence (HTTP 400 with the sentence as its
detail: the browser shows it).
"""
from __future__ import annotations

import os
from typing import Any

from explorer.policy import reachable_from_elsewhere
from wecl.settings import settings

EXPENSIVE = ("predict", "render")
# Waiting or running events of an expensive kind, app-wide. A prediction may take the decoding
# budget (WECL_TIME_BUDGET, 120 s) plus its backbones, so 16 is a wait of at most about 35 min.
def max_waiting(concurrency_id: str) -> int:
    """WECL_MAX_WAITING_PREDICTIONS or WECL_MAX_WAITING_RENDERS."""
    return settings().max_waiting_predictions if concurrency_id == "predict" else settings().max_waiting_renders


MAX_CHEAP_PER_CLIENT = 16


def client_address(headers: dict[str, str], peer: str | None) -> str:
    """The address a request comes from: on a Space, the entry its proxy appended to
    X-Forwarded-For (entries further left are the client's own words); elsewhere the peer."""
    if os.environ.get("SPACE_ID"):
        hops = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
        # Proxies in front of the app append to X-Forwarded-For (a Space has one, WECL_PROXY_HOPS):
        # the client's address is the entry that many places from the right, which a client cannot forge.
        proxies = settings().proxy_hops
        if len(hops) >= proxies > 0:
            return hops[-proxies]
    return peer or "unknown"


def _address(request: Any) -> str:
    client = getattr(request, "client", None)
    headers = {k.lower(): v for k, v in getattr(request, "headers", {}).items()}
    return client_address(headers, client.host if client else None)


def refusal(queue: Any, concurrency_id: str, session: str, address: str) -> str | None:
    """Why an event of `concurrency_id` from (session, address) may not join `queue` now, or None."""
    pending = [e for q in queue.event_queue_per_concurrency_id.values() for e in q.queue]
    pending += [e for job in queue.active_jobs if job for e in job]
    same_kind = [e for e in pending if e.concurrency_id == concurrency_id]
    by_address = reachable_from_elsewhere()
    mine = [e for e in same_kind
            if e.session_hash == session or (by_address and _address(e.request) == address)]
    what = {"predict": "prediction", "render": "annotated video"}.get(concurrency_id)
    if what is None:
        if len(mine) >= MAX_CHEAP_PER_CLIENT:
            return f"{len(mine)} of your updates are still waiting; wait for them before sending more"
        return None
    if mine:
        return (f"your previous {what} is still waiting or running; one at a time per visitor, so that "
                "every visitor gets a turn")
    limit = max_waiting(concurrency_id)
    if len(same_kind) >= limit:
        return (f"{len(same_kind)} {what}s are waiting or running, the most this server queues; "
                "try again in a few minutes")
    return None


def install(blocks: Any) -> None:
    """Put `refusal` in front of `blocks`' queue (after `blocks.queue(...)`, whose own `max_size` is
    then only a backstop)."""
    queue = blocks._queue
    if not hasattr(queue, "event_queue_per_concurrency_id") or not hasattr(queue, "active_jobs"):
        raise RuntimeError("this Gradio's queue has changed: ui.fairness cannot count its events")
    push = queue.push

    async def fair_push(body, request, username):
        fn = blocks.fns.get(body.fn_index) if isinstance(body.fn_index, int) else None
        if fn is not None:
            why = refusal(queue, fn.concurrency_id, body.session_hash or "", _address(request))
            if why is not None:
                return False, why, "error"
        return await push(body, request, username)

    queue.push = fair_push
