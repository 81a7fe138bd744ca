"""One exception type for problems a user can fix; its message is one sentence that says how."""


class WorkbookError(ValueError):
    """Bad input or environment: the message names the problem and the fix."""
