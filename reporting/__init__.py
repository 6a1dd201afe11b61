"""KPIs, dashboards, exports, scheduled reports and sampling audits.

Reporting reads every app's data and writes none of it. Filled by the reporting issue.
"""
