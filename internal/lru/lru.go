// Package lru is a small least-recently-used cache, for the client caches that must not
// grow with every token ever seen (grafana.Clients, the Slack notifier).
package lru

import (
	"container/list"
	"sync"
)

// Cache keeps at most Max entries, dropping the least recently used. It is safe for
// concurrent use. The zero value is not usable: call New.
type Cache[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used; elements hold *entry[K, V]
	byKey map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key   K
	value V
}

// New returns a cache of at most size entries (at least 1).
func New[K comparable, V any](size int) *Cache[K, V] {
	return &Cache[K, V]{max: max(1, size), order: list.New(), byKey: map[K]*list.Element{}}
}

// GetOrAdd returns the value cached for key, made by create if there is none (then
// cached, dropping the least recently used entry when full). An error from create is
// returned and nothing is cached.
func (c *Cache[K, V]) GetOrAdd(key K, create func() (V, error)) (V, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*entry[K, V]).value, nil
	}
	v, err := create()
	if err != nil {
		return v, err
	}
	c.byKey[key] = c.order.PushFront(&entry[K, V]{key, v})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.byKey, oldest.Value.(*entry[K, V]).key)
	}
	return v, nil
}

// Len is the number of entries cached.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
