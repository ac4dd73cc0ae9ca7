-- The ranker's scarcity feature (engine::fusion::Features::scarcity: 1 / (1 + users
-- who had the item)), logged per shown item like the others. NULL on lists logged
-- before it existed: online training leaves those out.
ALTER TABLE impression_items ADD COLUMN f_scarcity REAL;
