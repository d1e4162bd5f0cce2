// audit-mirrors: values that the record contract mirrors must be equal (SPEC §1, §4).
'use strict';
const { isObject, kindOf, otlpAttributes, otlpString } = require('./_records.js');

// CloudEvent extension -> the attribute it mirrors.
const EXTENSIONS = [
  ['auditactor', 'audit.actor.id'],
  ['auditactortype', 'audit.actor.type'],
  ['auditaction', 'audit.action'],
  ['auditoutcome', 'audit.outcome'],
  ['auditstream', 'audit.sequence.stream_id'],
  ['auditsequence', 'audit.sequence.number'],
];

function otlpMirrors(record) {
  const attrs = otlpAttributes(record);
  const results = [];
  const pathOf = (key) => ['attributes', attrs[key].index, 'value'];
  const recordId = otlpString(attrs['audit.record.id']);
  const eventId = otlpString(attrs['cloudevents.event_id']);
  if (recordId !== undefined && eventId !== undefined && recordId !== eventId) {
    results.push({ message: `cloudevents.event_id ${JSON.stringify(eventId)} differs from audit.record.id ${JSON.stringify(recordId)}`,
      path: pathOf('cloudevents.event_id') });
  }
  const eventType = otlpString(attrs['cloudevents.event_type']);
  if (eventType !== undefined && typeof record.eventName === 'string' && eventType !== record.eventName) {
    results.push({ message: `cloudevents.event_type ${JSON.stringify(eventType)} differs from eventName ${JSON.stringify(record.eventName)}`,
      path: pathOf('cloudevents.event_type') });
  }
  const hasTarget = 'audit.target.id' in attrs;
  const hasSubject = 'cloudevents.event_subject' in attrs;
  if (hasTarget !== hasSubject) {
    const key = hasTarget ? 'audit.target.id' : 'cloudevents.event_subject';
    const other = hasTarget ? 'cloudevents.event_subject' : 'audit.target.id';
    results.push({ message: `${key} is set but ${other} is not`, path: pathOf(key) });
  } else if (hasTarget) {
    const target = otlpString(attrs['audit.target.id']);
    const subject = otlpString(attrs['cloudevents.event_subject']);
    if (target !== undefined && subject !== undefined && target !== subject) {
      results.push({ message: `cloudevents.event_subject ${JSON.stringify(subject)} differs from audit.target.id ${JSON.stringify(target)}`,
        path: pathOf('cloudevents.event_subject') });
    }
  }
  return results;
}

function scalarText(value) {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  return undefined;
}

function cloudEventMirrors(event) {
  const results = [];
  const data = isObject(event.data) ? event.data : {};
  const attrs = isObject(data.attributes) ? data.attributes : {};
  const has = (key) => Object.prototype.hasOwnProperty.call(attrs, key);
  const compare = (field, key) => {
    if (!Object.prototype.hasOwnProperty.call(event, field) || !has(key)) return;
    const left = scalarText(event[field]);
    const right = scalarText(attrs[key]);
    if (left !== undefined && right !== undefined && left !== right) {
      results.push({ message: `${field} ${JSON.stringify(left)} differs from data.attributes[${JSON.stringify(key)}] ${JSON.stringify(right)}`,
        path: [field] });
    }
  };
  compare('id', 'audit.record.id');
  compare('id', 'cloudevents.event_id');
  compare('type', 'cloudevents.event_type');
  compare('source', 'cloudevents.event_source');
  const hasSubject = Object.prototype.hasOwnProperty.call(event, 'subject');
  if (hasSubject !== has('audit.target.id')) {
    results.push({ message: hasSubject ? 'subject is set but data.attributes has no audit.target.id'
      : 'data.attributes has audit.target.id but the event has no subject', path: ['subject'] });
  } else {
    compare('subject', 'audit.target.id');
  }
  for (const [field, key] of EXTENSIONS) compare(field, key);
  return results;
}

module.exports = function auditMirrors(input) {
  const kind = kindOf(input);
  if (kind === 'wrapper' || !isObject(input)) return [];
  return kind === 'cloudevent' ? cloudEventMirrors(input) : otlpMirrors(input);
};
