"""What docket's pytest fixtures hand out, for type hints and for use without them.

The fixtures (``memory_docket``, ``docket_runner``, ``docket_clock``) come from
the plugin pytest loads on its own (the ``docket_pytest_plugin`` module); with a
Docket of your own, use the classes directly:

    async with DocketRunner(docket) as runner:
        with VirtualClock(runner) as clock:
            await clock.advance(hours=3)
            runner.assert_ran(hourly_report, times=3)
"""

from ._testing_worker import DocketRunner, Run
from ._virtual_clock import VirtualClock

__all__ = ["DocketRunner", "Run", "VirtualClock"]
