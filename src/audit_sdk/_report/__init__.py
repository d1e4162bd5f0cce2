"""The evidence report's implementation: trail statistics, SVG charts, the HTML page."""
