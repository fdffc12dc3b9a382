CREATE DATABASE sedgate_at OWNER sedgate;
CREATE DATABASE sedgate_no OWNER sedgate;
