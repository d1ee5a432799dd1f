"""The one exception type for problems a user can cause (bad file, bad checkpoint, bad id)."""
import traceback


class WECLError(Exception):
    """A problem with the user's input; the message names the file or id and what is wrong.

    The CLI prints it and exits non-zero; the app shows it as a message. Never a traceback.
    """


def describe(error: BaseException, where: str = "") -> str:
    """An error as a dataset run records it for one video: a WECLError's own message; anything
    else (a library's surprise, a bug) by its type, after `where` (such as "path: ")."""
    return str(error) if isinstance(error, WECLError) else f"{where}{type(error).__name__}: {error}"


def release(error: BaseException) -> None:
    """Let go of what a failed request held: clear the locals of every finished frame in the
    traceback of `error` and of the errors it was raised from or during. A decoding failure's
    traceback holds its decoders and frames, and frames that hold the error back (a list of
    failures, a thread's future) make a cycle that only a later garbage collection would free."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        error = todo.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)
        todo += [error.__cause__, error.__context__, *getattr(error, "exceptions", ())]
