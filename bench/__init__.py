"""Sealbox benchmarks: `make bench`, or `python -m bench [SECTION ...]`.

Benchmarks print tables; they never pass or fail. Machines are shared and noisy,
so every figure that matters is a ratio to a baseline measured in the same run
(for example Sealbox's SMTP intake against a trivial aiosmtpd sink), interleaved
with it and taken as the median of a few repetitions.

Each section is a module with a SECTION = Section(name, title, run) and an entry
in bench.__main__.SECTIONS. run(ctx) gets a bench.util.Context: ctx.site() makes
a fresh data directory with a migrated database, site.start_smtpd() and
start_sink(ctx) start server processes, and everything started or created
through the context is stopped and removed when the section ends.
"""
