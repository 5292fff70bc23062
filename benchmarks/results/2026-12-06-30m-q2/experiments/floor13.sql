SELECT * FROM r13 ORDER BY owner_count DESC, accession_number;
