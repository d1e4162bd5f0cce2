// Shared helpers of the audit-sdk Spectral custom functions. Python twin:
// src/audit_sdk/_lint/payload.py (keep both in step; tests compare them).
'use strict';

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// 'wrapper' ({"resourceLogs": ...}: its records are linted one by one),
// 'cloudevent', or 'otlp'.
function kindOf(input) {
  if (isObject(input) && Object.prototype.hasOwnProperty.call(input, 'resourceLogs')) return 'wrapper';
  if (isObject(input) && Object.prototype.hasOwnProperty.call(input, 'specversion')) return 'cloudevent';
  return 'otlp';
}

// OTLP attribute list -> { key: { value, index } } (first occurrence wins).
function otlpAttributes(record) {
  const out = {};
  if (!isObject(record) || !Array.isArray(record.attributes)) return out;
  record.attributes.forEach((entry, index) => {
    if (isObject(entry) && typeof entry.key === 'string' && !(entry.key in out)) {
      out[entry.key] = { value: entry.value, index };
    }
  });
  return out;
}

// The string of an OTLP AnyValue, or undefined when it is not a stringValue.
function otlpString(found) {
  if (!found || !isObject(found.value)) return undefined;
  const s = found.value.stringValue;
  return typeof s === 'string' ? s : undefined;
}

module.exports = { isObject, kindOf, otlpAttributes, otlpString };
