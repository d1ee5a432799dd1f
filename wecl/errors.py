"""The one exception type for problems a user can cause (bad file, bad checkpoint, bad id)."""


class WECLError(Exception):
    """A problem with the user's input; the message names the file or id and what is wrong.

    The CLI prints it and exits non-zero; the app shows it as a message. Never a traceback.
    """
