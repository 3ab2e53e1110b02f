"""The cost ledger and everything that reads or guards spend.

Wiring (in ``create_app`` / the lifespan)::

    ledger = Ledger.open(paths.ledger_file, log_prompts=settings.ledger.log_prompts,
                         synchronous=settings.ledger.synchronous)
    prices = PriceBook.from_settings(settings)
    budget = BudgetGuard.from_settings(settings); await budget.load(ledger)
    limiter = RateLimiter.from_settings(settings)
    metrics = Metrics()
    for listener in (budget.add, limiter.observe, metrics.observe):
        ledger.add_listener(listener)

Per request: ``limiter.acquire(client, est_tokens)`` and ``budget.check(client, prices.estimate(...))``
before a cloud dispatch; ``prices.account(...)`` then ``await ledger.record(LedgerRecord(...))`` before the
last byte goes out; ``header_usd(acct.cost_usd)`` / ``header_usd(acct.saved_usd)`` for the
``x-edgeroute-cost-usd`` / ``x-edgeroute-saved-usd`` headers. Read side: ``ledger.stats(window, budget=budget.snapshot())``, ``ledger.recent()``,
``ledger.subscribe()``, ``metrics.render()``.
"""

from edgeroute.ledger.budgets import Breach, BudgetGuard
from edgeroute.ledger.events import Subscription
from edgeroute.ledger.metrics import Metrics
from edgeroute.ledger.money import format_usd, header_usd, nano_to_usd, usd_to_nano
from edgeroute.ledger.prices import Accounting, Price, PriceBook, cost_usd, load_price_table
from edgeroute.ledger.ratelimit import RateLimiter
from edgeroute.ledger.reader import LedgerReader
from edgeroute.ledger.record import LedgerRecord, prompt_hash
from edgeroute.ledger.schema import LedgerSchemaError
from edgeroute.ledger.windows import WINDOWS, Window
from edgeroute.ledger.writer import Ledger, LedgerError

__all__ = [
    "WINDOWS",
    "Accounting",
    "Breach",
    "BudgetGuard",
    "Ledger",
    "LedgerError",
    "LedgerReader",
    "LedgerRecord",
    "LedgerSchemaError",
    "Metrics",
    "Price",
    "PriceBook",
    "RateLimiter",
    "Subscription",
    "Window",
    "cost_usd",
    "format_usd",
    "header_usd",
    "load_price_table",
    "nano_to_usd",
    "prompt_hash",
    "usd_to_nano",
]
