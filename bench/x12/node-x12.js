// Streams FILE through node-x12's X12Parser and counts segments.
const fs = require('fs');
const { X12Parser } = require('node-x12');
const parser = new X12Parser(false);
let n = 0;
fs.createReadStream(process.argv[2])
  .pipe(parser)
  .on('data', () => { n++; })
  .on('error', (e) => { console.error('node-x12:', e.message); process.exit(1); })
  .on('end', () => { console.log('node-x12 segments', n); });
