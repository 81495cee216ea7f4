-- `images` asks, per image, whether any image names it as parent: index that column.
CREATE INDEX IF NOT EXISTS images_parent ON images(parent_id);
CREATE INDEX IF NOT EXISTS images_created ON images(created, added);
