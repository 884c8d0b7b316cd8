package main

import (
	"database/sql"
	"fmt"
)

// checkStoredOnce opens the database of a stopped server and checks that
// every acked client_id is stored exactly once; it returns how many messages
// are stored (unacked ones in flight at the end may be stored too, once).
func checkStoredOnce(path string, acked [][]string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT client_id, count(*) FROM messages WHERE client_id IS NOT NULL GROUP BY client_id`)
	if err != nil {
		return 0, fmt.Errorf("reading the stored messages: %w", err)
	}
	defer rows.Close()
	// client_ids are unique per sender; the load's ids are unique over all senders.
	count := map[string]int{}
	total := 0
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return 0, err
		}
		count[id] = n
		total += n
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, ids := range acked {
		for _, id := range ids {
			if count[id] != 1 {
				return 0, fmt.Errorf("acked message %s is stored %d times", id, count[id])
			}
		}
	}
	for id, n := range count {
		if n != 1 {
			return 0, fmt.Errorf("message %s is stored %d times", id, n)
		}
	}
	return total, nil
}
