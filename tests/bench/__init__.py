"""Relay speed and soundness, reported as figures against targets (`make bench`; not part of the test suite).

One module per scenario (`flood`, `latency`, `viewers`, `million`, `browser`), each with its figures and a
`measure(backend, sizes, scratch)`; `common` has what they share, `sse` a lean stream reader, `report` the
markdown, and `__main__` runs them interleaved over the storage backends.
"""
