-- Acknowledgments drew X12 control numbers from counters named isa/gs/st,
-- documents Wharf rendered from isa13/gs06/st02: two sequences for one
-- partner, so a 997 and a 204 could carry the same ISA13. One sequence now
-- (isa13, gs06, st02), continuing after the higher of the two.
INSERT INTO counters (partner_id, name, value)
    SELECT partner_id, CASE name WHEN 'isa' THEN 'isa13' WHEN 'gs' THEN 'gs06' ELSE 'st02' END, value
    FROM counters WHERE name IN ('isa', 'gs', 'st')
    ON CONFLICT (partner_id, name) DO UPDATE SET value = GREATEST(counters.value, excluded.value);
DELETE FROM counters WHERE name IN ('isa', 'gs', 'st');
