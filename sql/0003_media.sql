-- SPDX-License-Identifier: MIT
-- 0003: media objects (uploads), attached to image, video and file messages.
--
-- A media row is one upload: who uploaded it, the type libmagic found in its bytes (a
-- bare MIME type), its size and SHA-256, the sanitized file name the client gave, and
-- where its bytes live under $CHAT_VAR/media. The bytes are content-addressed
-- (storage_key "ab/cd/<sha256>"), so several rows may share one file: a file is removed
-- only when the last row naming its sha256 is gone.
--
-- attached_at is set (by a trigger) when the first message carries the media; a media
-- never attached is deleted by the periodic sweep 24 hours after its upload. The foreign
-- key from messages.media_id keeps the sweep from deleting a media that a send, running
-- at the same moment, attaches.
CREATE TABLE media (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	uploader_id	uuid NOT NULL REFERENCES users (id),
	content_type	text NOT NULL CHECK (content_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$'),
	size		bigint NOT NULL CHECK (size > 0),
	sha256		text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	file_name	text CHECK (octet_length(file_name) BETWEEN 1 AND 255),
	storage_key	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	attached_at	timestamptz
);
-- The sweep: unattached media by age.
CREATE INDEX media_unattached ON media (created_at) WHERE attached_at IS NULL;
-- Whether another row still names a file.
CREATE INDEX media_sha256 ON media (sha256);

-- Access checks (a member of a chat with a message carrying the media) and the foreign
-- key's checks on delete look messages up by media.
CREATE INDEX messages_media ON messages (media_id) WHERE media_id IS NOT NULL;
ALTER TABLE messages ADD CONSTRAINT messages_media_fk FOREIGN KEY (media_id)
    REFERENCES media (id);

CREATE FUNCTION media_attach() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE media SET attached_at = NEW.created_at
	 WHERE id = NEW.media_id AND attached_at IS NULL;
	RETURN NULL;
END;
$$;

CREATE TRIGGER messages_media_attach AFTER INSERT ON messages
    FOR EACH ROW WHEN (NEW.media_id IS NOT NULL) EXECUTE FUNCTION media_attach();
