"""The chat platforms' fixtures, for the end-to-end tests that run a tracker behind them."""

from tests.slack.conftest import fake_slack  # noqa: F401
from tests.teams.conftest import connector, make_stack  # noqa: F401
