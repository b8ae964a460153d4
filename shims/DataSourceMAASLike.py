"""cloud-init looks up datasources by module name at the top of sys.path.

This shim only re-exports the adapter: the code lives in
`cloudinit_maaslike.datasource`, whose module path is also what cloud-init's
pickled cache (obj.pkl) refers to, so it must not move.
"""

from cloudinit_maaslike.datasource import DataSourceMAASLike, get_datasource_list
