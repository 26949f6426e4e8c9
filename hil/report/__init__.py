"""Reports of a run: HTML, JUnit and JSON from the results on disk, the history across nights
and its trend page."""

from hil.report.html import build, junit_xml, summary  # noqa: F401
