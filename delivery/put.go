package delivery

import (
	"context"
	"fmt"
	"path"

	"github.com/wharfedi/wharf/transports"
)

// PutSender sends by putting the file into a folder of a transport
// (folders, S3 prefixes, SFTP): complete or not at all, under the message's
// file name, so a repeated attempt overwrites rather than duplicates.
type PutSender struct {
	Transport transports.Transport
	Folder    string
	Where     string // for the history, e.g. "folder /srv/erp/in" or "s3://bucket/prefix"
}

// Send implements Sender.
func (p *PutSender) Send(ctx context.Context, d *Delivery) (string, error) {
	rc, err := d.Open(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	name := path.Join(p.Folder, d.Name)
	if err := p.Transport.Put(ctx, name, rc); err != nil {
		return "", err
	}
	return fmt.Sprintf("put %s into %s (%d bytes)", name, p.Where, d.Size), nil
}

// Close closes the transport.
func (p *PutSender) Close() error { return p.Transport.Close() }
