-- The headers each attempt sent (the signature included) and the ones its response carried,
-- one `name: value` a line, for the delivery page. Attempts recorded before have none.
ALTER TABLE attempts ADD COLUMN request_headers TEXT;
ALTER TABLE attempts ADD COLUMN response_headers TEXT;
