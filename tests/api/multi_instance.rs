//! Several instances on one PostgreSQL database (DESIGN §1.5, §1.6): written in the next step.
