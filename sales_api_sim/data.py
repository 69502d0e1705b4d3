"""Deterministic sales data: which pages a date has and what each page holds.

Everything here is a pure function of the configuration, the date and the page,
so tests can compute what the server sends (and which records are invalid)
without a server. Randomness comes from ``random.Random`` seeded with strings
and from sha256, never from ``hash()``, so results are identical across
processes whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from sales_api_sim.config import SimulatorConfig

MIN_PAGES = 3
MAX_PAGES = 12
MAX_PRICE = 3000

RecordLabel = tuple[dict[str, Any], bool]

# Names mix plain ASCII with accented Latin, Cyrillic, Greek, CJK (one outside
# the Basic Multilingual Plane) and JSON-escaping hazards, so encoding bugs in
# a client show up on every page.
CLIENTS: tuple[str, ...] = (
    "Michael Wilson",
    "Sarah Johnson",
    "David Smith",
    "Emily Brown",
    "Conan O'Brien",
    'Dwayne "The Rock" Johnson',
    "Anna-Maria Schmidt",
    "José Álvarez",
    "François Dupont",
    "Zoë Müller",
    "Łukasz Wąsik",
    "Ørjan Søvik",
    "Çağla Yıldız",
    "Nguyễn Thị Hương",
    "Іван Петренко",
    "Мария Смирнова",
    "Олександр Коваленко",
    "Ελένη Παπαδοπούλου",
    "王伟",
    "李娜",
    "田中 太郎",
    "𠮷田 花子",
    "김민준",
    "Back\\Slash Ltd",
)

PRODUCTS: tuple[str, ...] = (
    "Phone",
    "TV",
    "Laptop",
    "Tablet",
    "Headphones",
    "Coffee machine",
    "Microwave oven",
    "Vacuum cleaner",
    "Sèche-cheveux",
    "Кавоварка",
    "ヘッドホン",
    "Smart watch",
)

INVALID_KINDS: tuple[str, ...] = (
    "price_string",
    "price_bool",
    "price_float",
    "missing_field",
    "impossible_date",
    "client_null",
    "product_object",
)

FIELDS: tuple[str, ...] = ("client", "purchase_date", "product", "price")


def pages_for_date(config: SimulatorConfig, day: str) -> int:
    """How many pages of sales ``day`` has (ignores ``endless``)."""
    if day in config.no_sales_dates:
        return 0
    if config.pages is not None:
        return config.pages
    digest = hashlib.sha256(f"{config.seed}:{day}".encode()).digest()
    return MIN_PAGES + int.from_bytes(digest[:8], "big") % (MAX_PAGES - MIN_PAGES + 1)


def page_exists(config: SimulatorConfig, day: str, page: int) -> bool:
    """Whether ``GET /sales?date=day&page=page`` has data (else the API answers 404)."""
    return config.endless or 1 <= page <= pages_for_date(config, day)


def generate_page(config: SimulatorConfig, day: str, page: int) -> list[RecordLabel]:
    """Records of one page, each paired with whether it is valid.

    The records are generated whether or not the page exists, so ``endless``
    mode can serve any page; call ``page_exists`` to know what the API answers.
    A page's valid data does not depend on ``invalid_rate``: raising the rate
    only corrupts more of the same records, and the invalid set at a lower
    rate is a subset of the set at a higher one.
    """
    rng = random.Random(f"{config.seed}:{day}:{page}")
    draw = rng.random
    n_clients = len(CLIENTS)
    n_products = len(PRODUCTS)
    records = [
        {
            "client": CLIENTS[int(draw() * n_clients)],
            "purchase_date": day,
            "product": PRODUCTS[int(draw() * n_products)],
            "price": 1 + int(draw() * MAX_PRICE),
        }
        for _ in range(config.records_per_page)
    ]
    if config.invalid_rate == 0:
        return [(record, True) for record in records]
    invalid_rng = random.Random(f"{config.seed}:{day}:{page}:invalid")
    return _corrupt(records, config.invalid_rate, invalid_rng, day)


def _corrupt(records: list[dict[str, Any]], rate: float, rng: random.Random, day: str) -> list[RecordLabel]:
    draw = rng.random
    labelled: list[RecordLabel] = []
    for record in records:
        # Three draws per record whatever the outcome keep every record's fate
        # independent of the rate (see generate_page).
        pick, kind_draw, field_draw = draw(), draw(), draw()
        if pick < rate:
            kind = INVALID_KINDS[int(kind_draw * len(INVALID_KINDS))]
            _make_invalid(record, kind, FIELDS[int(field_draw * len(FIELDS))], day)
            labelled.append((record, False))
        else:
            labelled.append((record, True))
    return labelled


def _make_invalid(record: dict[str, Any], kind: str, field: str, day: str) -> None:
    if kind == "price_string":
        record["price"] = str(record["price"])
    elif kind == "price_bool":
        record["price"] = True
    elif kind == "price_float":
        record["price"] = record["price"] + 0.5
    elif kind == "missing_field":
        del record[field]
    elif kind == "impossible_date":
        record["purchase_date"] = f"{day[:4]}-02-30"
    elif kind == "client_null":
        record["client"] = None
    elif kind == "product_object":
        record["product"] = {"name": record["product"], "sku": f"SKU-{record['price']:05d}"}
    else:
        raise AssertionError(f"unknown invalid kind {kind!r}")


def page_records(config: SimulatorConfig, day: str, page: int) -> list[dict[str, Any]]:
    """The records of one page, exactly as the API serves them."""
    return [record for record, _ in generate_page(config, day, page)]


def date_records(config: SimulatorConfig, day: str) -> list[RecordLabel]:
    """Every (record, is_valid) of a date, page 1 first: what a full extract sees."""
    if config.endless:
        raise ValueError("an endless simulator has no last page")
    last_page = pages_for_date(config, day)
    return [label for page in range(1, last_page + 1) for label in generate_page(config, day, page)]


class PageCache:
    """A thread-safe LRU of rendered pages bounded by total bytes, not entries.

    ``functools.lru_cache`` counts entries, and with huge ``records_per_page``
    a few hundred entries would be gigabytes.
    """

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: bytes) -> None:
        if len(value) > self._max_bytes:
            return
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous)
            self._items[key] = value
            self._bytes += len(value)
            while self._bytes > self._max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


PAGE_CACHE_BYTES = 64 * 1024 * 1024
_page_cache = PageCache(PAGE_CACHE_BYTES)


def render_page(config: SimulatorConfig, day: str, page: int) -> bytes:
    """The exact 200 body of one page (UTF-8 JSON, non-ASCII left unescaped)."""
    # Keyed only on the fields that shape the data, so servers that differ in
    # latency, faults or tokens share cached pages.
    key = (config.seed, config.records_per_page, config.invalid_rate, day, page)
    body = _page_cache.get(key)
    if body is None:
        body = json.dumps(page_records(config, day, page), ensure_ascii=False).encode("utf-8")
        _page_cache.put(key, body)
    return body
