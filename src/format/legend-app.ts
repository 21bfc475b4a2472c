// Legend entries of the App keys (-p, src/protocols) on socket records.
import type { LegendEntry } from './legend-socket.js';

const DNS: [string, string][] = [
  ['_Timestamp', 'Seconds from the socket\'s first event to the capture'],
  ['TransactionId', 'DNS message id'],
  ['OpCode', 'Query: QUERY, IQUERY, STATUS, NOTIFY, UPDATE'],
  ['ResponseCode', 'Response: NOERROR, FORMERROR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, ...'],
  ['Flags', 'Header flags set, of QR, AA, TC, RD, RA'],
  ['AnswerCount', 'Answers in the response'],
  ['ResourceRecords', 'Query: [type, name] per question; response: [type, name, ttl, class, data] per answer (all of them)'],
];
const HTTP: [string, string][] = [
  ['_Timestamp', 'Seconds from the socket\'s first event to the capture'],
  ['_Method', 'Request method'], ['_Url', 'Request target'], ['_Version', 'HTTP version'],
  ['_Status', 'Response status code'], ['_Reason', 'Response reason phrase'],
  ['[Header]', 'Each header as "Name": "value" (at most 32, 256 characters each)'],
  ['_Body', 'Start of the body (128 characters); alone: a continuation segment'],
];
const SYSLOG: [string, string][] = [
  ['Facility', 'Facility name, e.g. User, Security/Authorization, Local0'], ['Severity', 'Severity name and number, e.g. "Notice (5)"'],
  ['Priority', 'PRI value'], ['Version', '1 for RFC 5424, 0 for RFC 3164 (BSD)'], ['Timestamp', 'Timestamp as sent'],
  ['Hostname', 'Host name'], ['Appname', 'Application name (tag)'], ['ProcId', 'Process id'], ['MsgId', 'Message id (RFC 5424)'],
  ['Data', 'Structured data (RFC 5424)'], ['Message', 'Message text'],
];

export const APP_LEGEND: LegendEntry[] = [
  ['App', 'Application protocol of the captured payloads (-p): DNS, HTTP or SYSLOG'],
  ['AppTxDns', 'DNS messages sent', DNS], ['AppRxDns', 'DNS messages received', DNS],
  ['AppTxHttp', 'HTTP segments sent (heads reassembled across segments)', HTTP], ['AppRxHttp', 'HTTP segments received', HTTP],
  ['AppTxSyslog', 'Syslog messages sent', SYSLOG], ['AppRxSyslog', 'Syslog messages received', SYSLOG],
];
