"""The one exception type for problems a user can cause (bad file, bad checkpoint, bad id)."""


class WECLError(Exception):
    """A problem with the user's input; the message names the file or id and what is wrong.

    The CLI prints it and exits non-zero; the app shows it as a message. Never a traceback.
    """


def describe(error: BaseException, where: str = "") -> str:
    """An error as a dataset run records it for one video: a WECLError's own message; anything
    else (a library's surprise, a bug) by its type, after `where` (such as "path: ")."""
    return str(error) if isinstance(error, WECLError) else f"{where}{type(error).__name__}: {error}"
