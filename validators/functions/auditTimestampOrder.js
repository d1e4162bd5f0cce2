// audit-otlp-timestamp-order: observedTimeUnixNano >= timeUnixNano (SPEC §1).
'use strict';
const { isObject, kindOf } = require('./_records.js');

const DECIMAL = /^[0-9]+$/;

module.exports = function auditTimestampOrder(input) {
  if (kindOf(input) !== 'otlp' || !isObject(input)) return [];
  const time = input.timeUnixNano;
  const observed = input.observedTimeUnixNano;
  if (typeof time !== 'string' || typeof observed !== 'string') return [];
  if (!DECIMAL.test(time) || !DECIMAL.test(observed) || BigInt(observed) === 0n) return [];
  if (BigInt(observed) < BigInt(time)) {
    return [{
      message: `observedTimeUnixNano ${observed} is earlier than timeUnixNano ${time}`,
      path: ['observedTimeUnixNano'],
    }];
  }
  return [];
};
