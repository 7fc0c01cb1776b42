"""Command line of the sandbox: `serve` a Zoho-compatible CRM, or `generate` a JSON data set.

`serve --profile zoho` plays Zoho as strictly as its v8 docs describe; `--profile default` (the
default) is fast and lets everything through. Each knob is a flag (its profile's value unless
given) and can be changed at run time with POST /__sandbox/profile (docs/sandbox.md); `serve
--help` lists each flag with what it does and its value in each profile. 0 switches a cap off;
the default profile has every cap off and no latency.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from crm_books import config as crm_config
from zoho_sandbox.generator import Generator
from zoho_sandbox.profiles import PROFILES, Knobs
from zoho_sandbox.server import SandboxConfig, SandboxServer

_DEFAULT_SIZES = {"accounts": 1000, "contacts": 3000, "deals": 500}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m zoho_sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the sandbox CRM over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--data", type=Path, help='JSON {"Accounts": [...], ...} to load')
    serve.add_argument("--discrete-page-limit", type=int, default=crm_config.DISCRETE_PAGE_LIMIT)
    serve.add_argument("--query-record-limit", type=int, default=crm_config.QUERY_RECORD_LIMIT)
    serve.add_argument("--org-id", default="sandbox-org-1")
    serve.add_argument("--org-name", default="Sandbox Org")
    serve.add_argument("--time-zone", default="Asia/Kolkata")
    serve.add_argument("--clock", help="freeze the clock at this ISO-8601 time")
    serve.add_argument("--profile", choices=sorted(PROFILES), default="default")
    _knob_flags(serve)
    generate = sub.add_parser("generate", help="write generated records as Zoho-format JSON")
    generate.add_argument("--out", type=Path, required=True)
    generate.add_argument("--clock", help="generated times end at this ISO-8601 time")
    bench = sub.add_parser("bench", help="measure generation and loopback serving rates")
    bench.add_argument("--records", type=int, default=1_000_000)
    bench.add_argument("--serve-records", type=int, default=200_000)
    bench.add_argument("--seed", type=int, default=7)
    for p in (serve, generate):
        p.add_argument("--seed", type=int, default=7)
        # None: the default size, or 0 when --data supplies the records
        p.add_argument("--accounts", type=int)
        p.add_argument("--contacts", type=int)
        p.add_argument("--deals", type=int)
    return parser


def _knob_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per knob; None (not given) keeps the profile's value."""
    for f in fields(Knobs):
        flag = "--" + f.name.replace("_", "-")
        values = ", ".join(f"{name} {getattr(k, f.name)}" for name, k in PROFILES.items())
        values = f"{f.metadata['help']} ({values})"
        if f.type in (bool, "bool"):
            parser.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, help=values
            )
        else:
            kind = int if f.type in (int, "int") else float
            parser.add_argument(flag, dest=f.name, type=kind, metavar="N", help=values)


def knob_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The knobs given on the command line."""
    return {
        f.name: getattr(args, f.name) for f in fields(Knobs) if getattr(args, f.name) is not None
    }


def _sizes(args: argparse.Namespace, from_file: bool) -> dict[str, int]:
    return {
        name: getattr(args, name) if getattr(args, name) is not None else (0 if from_file else n)
        for name, n in _DEFAULT_SIZES.items()
    }


def _clock(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def write_dataset(generator: Generator, out: TextIO) -> int:
    """Stream every generated record as one JSON object keyed by module; returns the count."""
    n = 0
    out.write("{")
    for m_index, module in enumerate(generator.sizes):
        out.write(("," if m_index else "") + json.dumps(module) + ":[")
        for r_index, record in enumerate(generator.iter_records(module)):
            out.write(("," if r_index else "") + json.dumps(record, ensure_ascii=False))
            n += 1
        out.write("]")
    out.write("}\n")
    return n


def _bench(args: argparse.Namespace) -> int:
    from zoho_sandbox.benchmark import bench_generate, bench_serve

    for label, result in (
        ("generated", bench_generate(args.records, args.seed)),
        ("served", bench_serve(args.serve_records, args.seed)),
    ):
        print(f"{label}: {result.summary()}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    gen = Generator(seed=args.seed, anchor=_clock(args.clock), **_sizes(args, False))
    with args.out.open("w", encoding="utf-8") as fh:
        n = write_dataset(gen, fh)
    print(f"wrote {n} records to {args.out}", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    sizes = _sizes(args, args.data is not None)
    config = SandboxConfig(
        seed=args.seed,
        accounts=sizes["accounts"],
        contacts=sizes["contacts"],
        deals=sizes["deals"],
        discrete_page_limit=args.discrete_page_limit,
        query_record_limit=args.query_record_limit,
        org_id=args.org_id,
        org_name=args.org_name,
        clock_start=_clock(args.clock),
        time_zone=args.time_zone,
        profile=args.profile,
        knobs=knob_overrides(args),
    )
    server = SandboxServer(config, host=args.host, port=args.port)
    if args.data is not None:
        loaded = server.load_records(json.loads(args.data.read_text(encoding="utf-8")))
        print(f"loaded {loaded} records from {args.data}", file=sys.stderr)
    counts = {m: server.store.count(m) for m in server.store.tables}
    print(
        f"CRM sandbox on http://{args.host}:{args.port} (org {config.org_id}, {counts}, "
        f"profile {config.profile}); "
        f"client_id={server.client_id} refresh_token={server.refresh_token}",
        file=sys.stderr,
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


_COMMANDS = {"bench": _bench, "generate": _generate, "serve": _serve}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _COMMANDS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
