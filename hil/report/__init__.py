"""Reports of a run: HTML, JUnit and JSON from the results on disk, the history across nights
and its trend page.

- `build`: results.json and `build`, which writes every report of a run folder;
- `totals`: the run's summary and the metrics each report quotes;
- `junit`: junit.xml; `html`: index.html, its divergence breakdown, and trend.html;
- `plot`: the per-result and the across-nights plots (matplotlib, imported only when there is
  something to plot);
- `history`: the SQLite history across nights and the trend it shows;
- `coverage`: the gaps in the nightly's coverage found in the history (`hil history check`,
  the top of the trend page)."""

from hil.report.build import build
from hil.report.junit import junit_xml
from hil.report.totals import summary

__all__ = ["build", "junit_xml", "summary"]
