// Renders the server's own OpenAPI document with Redoc's standalone bundle
// (served next to this file, never from a CDN). A separate file, not an inline
// script, so the page works under a CSP without 'unsafe-inline' scripts.
/* global Redoc */
Redoc.init(
  '/api/v1/openapi.json',
  {
    hideDownloadButton: false,
    expandResponses: '200,201',
    pathInMiddlePanel: true,
    theme: { typography: { fontFamily: 'system-ui, sans-serif', headings: { fontFamily: 'system-ui, sans-serif' } } },
  },
  document.getElementById('reference'),
);
