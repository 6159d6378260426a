"""One exception type for problems a user can fix, so every entry point can print it without a traceback."""


class QbenchError(Exception):
    """A user-fixable problem: ``problem`` says what is wrong, ``fix`` what to do about it."""

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  fix: {fix}" if fix else problem)
