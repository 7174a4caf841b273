package main

import "container/list"

// storedResponse is what a key remembers of a stored /v1/responses answer,
// for requests that continue from it with previous_response_id.
type storedResponse struct {
	context    int64    // the whole conversation in tokens: its input plus its output
	hash       uint64   // identifies the conversation through this response
	lastOutput string   // the reply text
	known      []string // call_ids of every function call in the conversation
	pending    []string // call_ids of the response's own calls, which the next request must answer
}

// responseStoreSize bounds each key's stored responses; the least recently
// used one is forgotten first.
const responseStoreSize = 10000

// responseStore is one key's stored responses, guarded by the key's mutex.
type responseStore struct {
	byID  map[string]*list.Element
	order list.List // front: most recently used
}

type storeEntry struct {
	id string
	r  storedResponse
}

// get looks a response up and marks it as recently used.
func (s *responseStore) get(id string) (storedResponse, bool) {
	el, ok := s.byID[id]
	if !ok {
		return storedResponse{}, false
	}
	s.order.MoveToFront(el)
	return el.Value.(*storeEntry).r, true
}

// put remembers a response, forgetting the least recently used one when
// the store is full.
func (s *responseStore) put(id string, r storedResponse) {
	if s.byID == nil {
		s.byID = make(map[string]*list.Element)
	}
	if el, ok := s.byID[id]; ok {
		el.Value.(*storeEntry).r = r
		s.order.MoveToFront(el)
		return
	}
	if s.order.Len() >= responseStoreSize {
		old := s.order.Back()
		s.order.Remove(old)
		delete(s.byID, old.Value.(*storeEntry).id)
	}
	s.byID[id] = s.order.PushFront(&storeEntry{id: id, r: r})
}

func (s *responseStore) len() int { return s.order.Len() }
