"""The self-contained HTML model report and its inline SVG charts."""
