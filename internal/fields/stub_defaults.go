package fields

// Defaults returns every field's default value (fields without one are left out).
func (s Schema) Defaults() Values {
	v := Values{}
	for _, f := range s {
		if f.Default != nil {
			v[f.ID] = f.Default
		}
	}
	return v
}
