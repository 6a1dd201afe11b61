"""Console pages of reporting's exports, scheduled reports and sampling audits.

Mounted under /reports/ by ``reporting.urls``; they look like the rest of the staff
console (``console/base.html``) and work without JavaScript.
"""
