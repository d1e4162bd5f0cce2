// audit-otlp-unique-keys: each attribute key appears once in an OTLP attribute list.
'use strict';
const { isObject, kindOf } = require('./_records.js');

module.exports = function auditUniqueKeys(input) {
  if (kindOf(input) !== 'otlp' || !isObject(input) || !Array.isArray(input.attributes)) return [];
  const seen = new Set();
  const results = [];
  input.attributes.forEach((entry, index) => {
    if (!isObject(entry) || typeof entry.key !== 'string') return;
    if (seen.has(entry.key)) {
      results.push({
        message: `attribute ${JSON.stringify(entry.key)} appears more than once`,
        path: ['attributes', index, 'key'],
      });
    }
    seen.add(entry.key);
  });
  return results;
};
